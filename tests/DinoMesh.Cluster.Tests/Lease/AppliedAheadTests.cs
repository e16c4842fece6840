using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Storage.Replica;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The holder applies a change once: the result its tip computed when it checked the proposal is what the replica
/// publishes at commit, unless anything could make a fresh apply differ (another record at that version, another
/// state under it), in which case the entry is applied from the log and the committed state is what a fresh apply of
/// the log gives.
/// </summary>
public sealed class AppliedAheadTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private readonly TempReplicas _replicas = new();

    private static Mutation Create(string name, ulong seq) => TempReplicas.CreateInRoot(name, seq, A);

    private MetadataReplica Founded() => _replicas.Founded(A);

    [Fact]
    public void A_committed_entry_whose_result_the_holder_computed_is_published_without_applying_it_again()
    {
        var replica = Founded();
        var ahead = new AppliedAhead();
        var mutation = Create("a", 1);
        var payload = MutationCodec.Encode(mutation);
        var result = replica.Current.Apply(mutation);
        ahead.Add(term: 3, replica.Current, mutation, payload, result);
        replica.Log.Append(2, 3, payload);

        Assert.Equal(1, replica.ApplyCommitted(2, ahead));

        Assert.Same(result.State, replica.Current);
        Assert.Equal(1, ahead.Reused);
        Assert.False(ahead.Broken);
    }

    [Fact]
    public void After_a_term_change_that_dropped_the_tip_the_committed_state_is_a_fresh_apply_of_the_log()
    {
        var replica = Founded();
        var genesis = replica.Current;
        var ahead = new AppliedAhead();
        // The tip of term 3 held "a" at version 2; a new holder of term 4 replaced it with "b" before it committed.
        var dropped = Create("a", 1);
        ahead.Add(term: 3, genesis, dropped, MutationCodec.Encode(dropped), genesis.Apply(dropped));
        var replacement = Create("b", 2);
        replica.Log.Append(2, 4, MutationCodec.Encode(replacement));

        Assert.Equal(1, replica.ApplyCommitted(2, ahead));

        var fresh = genesis.Apply(replacement).State;
        Assert.Equal(StateSnapshotCodec.Encode(fresh), StateSnapshotCodec.Encode(replica.Current));
        Assert.Equal(FsError.NoEntry, replica.Current.Lookup(FileSystemState.RootIno, FileName.FromString("a")).Error);
        Assert.Equal(0, ahead.Reused);
        Assert.True(ahead.Broken, "the tip no longer continues the replica's states");
    }

    [Fact]
    public void The_same_record_in_the_same_term_with_different_bytes_is_applied_from_the_log()
    {
        var replica = Founded();
        var genesis = replica.Current;
        var ahead = new AppliedAhead();
        var kept = Create("a", 1);
        ahead.Add(term: 3, genesis, kept, MutationCodec.Encode(kept), genesis.Apply(kept));
        var logged = Create("c", 1);
        replica.Log.Append(2, 3, MutationCodec.Encode(logged));

        replica.ApplyCommitted(2, ahead);

        Assert.Equal(FsError.None, replica.Current.Lookup(FileSystemState.RootIno, FileName.FromString("c")).Error);
        Assert.Equal(0, ahead.Reused);
    }

    [Fact]
    public void A_result_computed_on_another_state_object_is_not_used()
    {
        var replica = Founded();
        var ahead = new AppliedAhead();
        var mutation = Create("a", 1);
        var payload = MutationCodec.Encode(mutation);
        // Equal by value, but not the replica's state: a snapshot install or replacement may have come between.
        var copy = replica.Current with { };
        ahead.Add(term: 3, copy, mutation, payload, copy.Apply(mutation));
        replica.Log.Append(2, 3, payload);

        replica.ApplyCommitted(2, ahead);

        Assert.Equal(0, ahead.Reused);
        Assert.Equal(FsError.None, replica.Current.Lookup(FileSystemState.RootIno, FileName.FromString("a")).Error);
    }

    [Fact]
    public void A_restart_clears_what_was_kept_and_the_broken_mark()
    {
        var replica = Founded();
        var ahead = new AppliedAhead();
        replica.Log.Append(2, 3, MutationCodec.Encode(Create("a", 1)));
        replica.ApplyCommitted(2, ahead);
        Assert.True(ahead.Broken);

        ahead.Restart();
        var next = Create("b", 2);
        var payload = MutationCodec.Encode(next);
        var result = replica.Current.Apply(next);
        ahead.Add(term: 3, replica.Current, next, payload, result);
        replica.Log.Append(3, 3, payload);
        replica.ApplyCommitted(3, ahead);

        Assert.False(ahead.Broken);
        Assert.Same(result.State, replica.Current);
    }

    [Fact]
    public async Task A_holder_applies_its_own_proposals_once_and_commits_what_a_fresh_apply_of_its_log_gives()
    {
        var ct = TestContext.Current.CancellationToken;
        var replica = Founded();
        var wire = new MemoryLeaseNetwork();
        await using var holder = wire.Join(A, replica);
        holder.Start([A]);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (holder.Status.Role != LeaseRole.Holder && DateTime.UtcNow < until) await Task.Delay(10, ct);

        const int Files = 20;
        for (ulong i = 1; i <= Files; i++)
        {
            var mutation = Create($"f{i}", i);
            Assert.Equal(ProposeOutcome.Appended, holder.Propose(mutation, MutationCodec.Encode(mutation)).Outcome);
        }
        while (replica.Current.Version < replica.Log.LastVersion && DateTime.UtcNow < until) await Task.Delay(10, ct);

        Assert.Equal(replica.Log.LastVersion, replica.Current.Version);
        // Every proposal but possibly the first (the tip is built at the first, with the term's first entry in it) was
        // taken from the tip; the new term's first entry was not proposed through the tip unless it was still open.
        Assert.True(holder.AppliedOnce >= Files - 1, $"{holder.AppliedOnce} of {Files} proposals applied once");
        var fresh = FileSystemState.Empty;
        foreach (var record in replica.Log.ReadFrom(1)) fresh = fresh.Apply(MutationCodec.Decode(record.Payload)).State;
        Assert.Equal(StateSnapshotCodec.Encode(fresh), StateSnapshotCodec.Encode(replica.Current));
    }

    public void Dispose() => _replicas.Dispose();
}
