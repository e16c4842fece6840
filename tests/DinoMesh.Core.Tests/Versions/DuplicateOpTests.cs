using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Versions;

/// <summary>Regression: a retried request (the reply was lost, the client sent it again) was applied twice.</summary>
public class DuplicateOpTests
{
    private const ulong Root = FileSystemState.RootIno;
    private static readonly byte[] ClientA = [.. Enumerable.Range(1, 16).Select(i => (byte)i)];
    private static readonly byte[] ClientB = [.. Enumerable.Range(101, 16).Select(i => (byte)i)];

    [Fact]
    public void Retried_create_is_a_duplicate_not_EEXIST_and_creates_nothing()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f").WithOp(ClientA, 1));
        var retry = s.Apply(File(Root, "f").WithOp(ClientA, 1));
        Assert.True(retry.Ok);
        Assert.True(retry.Effect.Duplicate);
        Assert.Equal(s.Version + 1, retry.State.Version);               // the log entry still takes its version
        Assert.Equal(s.NextIno, retry.State.NextIno);
        Assert.Single(retry.State.Get(Root).Entries);
    }

    [Fact]
    public void Retried_exchange_does_not_swap_back()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "a"), out ulong a).Ok(File(Root, "b"), out ulong b);
        var swap = Rename(Root, "a", Root, "b", FileSystemState.RenameExchange).WithOp(ClientA, 7);
        s = s.Ok(swap).Ok(swap with { });
        Assert.Equal((b, a), (s.At("a").Ino, s.At("b").Ino));
    }

    [Fact]
    public void Retried_write_and_link_count_once()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        var link = Link(f, Root, "g").WithOp(ClientA, 3);
        s = s.Ok(link).Ok(link with { });
        Assert.Equal(2u, s.Get(f).NLink);
    }

    // One client's concurrent mutations may reach the log in any order: a lower sequence not yet seen is new.
    [Fact]
    public void Older_sequence_not_yet_applied_is_applied_once()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "x").WithOp(ClientA, 10));
        var late = s.Apply(File(Root, "y").WithOp(ClientA, 9));
        Assert.False(late.Effect.Duplicate);
        Assert.True(late.State.Has(Root, "y"));
        Assert.True(late.State.Apply(File(Root, "z").WithOp(ClientA, 9)).Effect.Duplicate);
    }

    [Fact]
    public void Sequence_older_than_the_window_is_a_duplicate()
    {
        var s = StateAssert.Fresh();
        for (var seq = 1UL; seq <= FileSystemState.OpWindow + 1; seq++) s = s.Ok(File(Root, $"f{seq}").WithOp(ClientA, seq + 100));
        var ancient = s.Apply(File(Root, "old").WithOp(ClientA, 50));
        Assert.True(ancient.Effect.Duplicate);
        Assert.False(ancient.State.Has(Root, "old"));
    }

    [Fact]
    public void Next_sequence_and_other_clients_are_applied()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "x").WithOp(ClientA, 1));
        s = s.OkWith(File(Root, "y").WithOp(ClientA, 2), out var next);
        s = s.OkWith(File(Root, "z").WithOp(ClientB, 1), out var other);
        Assert.False(next.Duplicate);
        Assert.False(other.Duplicate);
        Assert.True(s.Has(Root, "y") && s.Has(Root, "z"));
    }

    [Fact]
    public void Entries_without_an_op_id_are_never_duplicates()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        var write = Write(f, 0, [1]);
        s = s.OkWith(write, out var first).OkWith(write with { }, out var second);
        Assert.False(first.Duplicate || second.Duplicate);
    }

    [Fact]
    public void A_retry_after_a_restart_from_a_snapshot_is_still_a_duplicate()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d").WithOp(ClientA, 42));
        var restored = Snapshots.RoundTrip(s);
        var retry = restored.Apply(Mkdir(Root, "d").WithOp(ClientA, 42));
        Assert.True(retry.Ok);
        Assert.True(retry.Effect.Duplicate);
    }

    [Fact]
    public void Failed_entry_does_not_consume_its_sequence()
    {
        // The lease holder never logs a refused entry, so the client's next try with the same id must be checked again.
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"));
        s.Fails(File(Root, "d").WithOp(ClientA, 5), FsError.Exists);
        var s2 = s.Ok(Rmdir(Root, "d"));
        var retry = s2.Apply(File(Root, "d").WithOp(ClientA, 5));
        Assert.False(retry.Effect.Duplicate);
        Assert.True(retry.State.Get(retry.Effect.Ino).IsRegular);
    }

    // The contract the proposer must keep (MutationClock's op window): a sequence in flight never has OpWindow
    // sequences above it applied. With one fewer it is still applied; with OpWindow above it, it is answered as applied
    // and dropped, which is why a client may not hand out a sequence that far above its oldest one in flight.
    [Fact]
    public void A_sequence_is_applied_below_a_window_of_later_ones_and_dropped_at_a_full_one()
    {
        var s = StateAssert.Fresh();
        for (var seq = 2UL; seq <= FileSystemState.OpWindow; seq++) s = s.Ok(File(Root, $"f{seq}").WithOp(ClientA, seq));
        var inTime = s.Apply(File(Root, "late").WithOp(ClientA, 1));
        var full = s.Ok(File(Root, "last").WithOp(ClientA, FileSystemState.OpWindow + 1));
        var tooLate = full.Apply(File(Root, "late").WithOp(ClientA, 1));

        Assert.False(inTime.Effect.Duplicate);
        Assert.True(inTime.State.Has(Root, "late"));
        Assert.True(tooLate.Ok && tooLate.Effect.Duplicate);
        Assert.False(tooLate.State.Has(Root, "late"));
    }
}
