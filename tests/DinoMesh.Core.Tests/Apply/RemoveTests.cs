using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

public class RemoveTests
{
    private const ulong Root = FileSystemState.RootIno;

    [Fact]
    public void Missing_name_is_ENOENT_for_unlink_and_rmdir()
    {
        var s = StateAssert.Fresh();
        s.Fails(Unlink(Root, "nope"), FsError.NoEntry);
        s.Fails(Rmdir(Root, "nope"), FsError.NoEntry);
    }

    [Fact]
    public void Parent_gone_is_ESTALE_and_parent_file_is_ENOTDIR()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        s.Fails(Unlink(f, "x"), FsError.NotADirectory);
        s.Fails(Unlink(12345, "x"), FsError.Stale);
        s.Fails(Rmdir(12345, "x"), FsError.Stale);
    }

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("")]
    public void Dot_names_are_EINVAL(string name)
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d);
        s.Fails(Rmdir(d, name), FsError.Invalid);
        s.Fails(Unlink(d, name), FsError.Invalid);
    }

    // The proposer says it holds the file open nowhere, and there is no other member: the last name and the inode go in
    // one entry.
    [Fact]
    public void Unlink_of_a_file_not_open_here_drops_the_inode_with_its_last_name_only()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Link(f, Root, "g"));
        s = s.Ok(Unlink(Root, "f", notOpenHere: [f]));
        Assert.Equal(1u, s.Inodes[f].NLink);
        var result = s.Apply(Unlink(Root, "g", notOpenHere: [f]));
        Assert.True(result.Ok);
        Assert.False(result.State.Inodes.ContainsKey(f));
        Assert.Contains(f, result.Effect.Removed);
    }

    [Fact]
    public void Unlink_of_a_file_the_proposer_may_hold_open_leaves_an_orphan()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Unlink(Root, "f"));
        Assert.Equal(0u, s.Inodes[f].NLink);
        Assert.True(s.Orphans.ContainsKey(f));
    }

    [Fact]
    public void Unlink_of_a_directory_is_EISDIR() =>
        StateAssert.Fresh().Ok(Mkdir(Root, "d")).Fails(Unlink(Root, "d"), FsError.IsADirectory);

    [Fact]
    public void Rmdir_of_a_file_or_symlink_is_ENOTDIR()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f")).Ok(Symlink(Root, "l", "d"));
        s.Fails(Rmdir(Root, "f"), FsError.NotADirectory);
        s.Fails(Rmdir(Root, "l"), FsError.NotADirectory);
    }

    [Fact]
    public void Rmdir_of_a_non_empty_directory_is_ENOTEMPTY()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d).Ok(File(d, "f"));
        s.Fails(Rmdir(Root, "d"), FsError.NotEmpty);
        s.Ok(Unlink(d, "f")).Ok(Rmdir(Root, "d"));
    }

    [Fact]
    public void Rmdir_drops_the_directory_inode_and_reports_it_removed()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d", time: 5), out ulong d);
        s = s.OkWith(Rmdir(Root, "d", time: 9), out var effect);
        Assert.Null(s.Find(d));
        Assert.False(s.Has(Root, "d"));
        Assert.Equal([d], effect.Removed);
        Assert.Equal((9L, 9L), (s.Get(Root).MTime, s.Get(Root).CTime));
    }

    [Fact]
    public void Unlink_of_the_last_link_leaves_an_orphan_with_nlink_zero()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Write(f, 0, [1, 2, 3]));
        s = s.Ok(Unlink(Root, "f", time: 77));
        Assert.False(s.Has(Root, "f"));
        var orphan = s.Get(f);
        Assert.Equal(0u, orphan.NLink);
        Assert.Equal(77L, orphan.CTime);
        Assert.Equal(3L, orphan.Size);                                 // an open handle still reads it

        // Still writable and readable through its handle until reclaimed.
        s = s.Ok(Write(f, 3, [4]));
        Assert.Equal(4L, s.Get(f).Size);
    }

    [Fact]
    public void Reclaim_removes_an_orphan_and_is_idempotent()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Unlink(Root, "f"));
        s = s.OkWith(Reclaim(f), out var effect);
        Assert.Null(s.Find(f));
        Assert.Equal([f], effect.Removed);

        var again = s.OkWith(Reclaim(f), out var second);
        Assert.Empty(second.Removed);
        Assert.Equal(StateSnapshotCodec.StateHash(s with { Version = again.Version }), StateSnapshotCodec.StateHash(again));
        s.Ok(Reclaim(987654));                                          // never existed: also nothing to do
    }

    [Fact]
    public void Reclaim_of_a_linked_inode_does_nothing()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Link(f, Root, "g")).Ok(Unlink(Root, "f"));
        var after = s.OkWith(Reclaim(f), out var effect);
        Assert.Equal(1u, after.Get(f).NLink);
        Assert.Empty(effect.Removed);
        Assert.Equal(StateSnapshotCodec.StateHash(s with { Version = after.Version }), StateSnapshotCodec.StateHash(after));
    }

    [Fact]
    public void Reclaim_of_a_directory_in_the_tree_does_nothing()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d);
        var after = s.Ok(Reclaim(d)).Ok(Reclaim(Root));
        Assert.NotNull(after.Find(d));
        Assert.NotNull(after.Find(Root));
    }

    [Fact]
    public void Unlink_of_one_hard_link_keeps_the_inode_linked()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f).Ok(Link(f, Root, "g"));
        s = s.Ok(Unlink(Root, "f"));
        Assert.Equal(1u, s.Get(f).NLink);
        Assert.Equal(f, s.At("g").Ino);
    }
}
