using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Replica;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The holder's appends leave before it writes the entries to its own log (LeaseDriver.Propose), so the followers'
/// appends overlap its own; the commit and the apply still wait for that write.
/// </summary>
public sealed class LeaseDriverSendFirstTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_proposals_append_leaves_before_the_holder_writes_it_and_it_commits_once_written()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (_replicas.Open(), _replicas.Open());
        var wire = new MemoryLeaseNetwork(deliverOnFlush: true);
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });
        await using var holder = wire.Join(A, holderReplica);
        await using var follower = wire.Join(B, followerReplica);
        holder.Start([A, B]);
        follower.Start([A, B]);
        await LeaseDriverWaits.HolderSettledAsync(holder, ct);
        // Two voters: every commit needs B, so no append to it is deferred and each proposal's own round sends it.
        await LeaseDriverWaits.MakeVoterAsync(holder, B, ct);
        // Until the voter change committed, B was a learner whose appends could wait for more (quorum first): counted
        // from when it holds every entry, so each proposal below is sent in its own round.
        var caughtUp = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (follower.Status.Applied < holder.Status.Commit && DateTime.UtcNow < caughtUp) await Task.Delay(5, ct);
        Assert.True(follower.Status.Applied >= holder.Status.Commit, "the follower did not catch up with the voter change");

        // For each version, the end of the holder's log when the first append carrying it left.
        var logEndAtFirstSend = new System.Collections.Concurrent.ConcurrentDictionary<long, long>();
        wire.Flushing = (from, _, message) =>
        {
            if (from != A || message is not Append { Entries.Length: > 0 } append) return;
            foreach (var entry in append.Entries) logEndAtFirstSend.TryAdd(entry.Version, holderReplica.Log.LastVersion);
        };

        var proposed = new List<long>();
        for (var i = 1; i <= 20; i++)
        {
            var create = TempReplicas.CreateInRoot($"f{i}", (ulong)i, A);
            var response = holder.Propose(create, Core.Wire.MutationCodec.Encode(create));
            Assert.Equal(ProposeOutcome.Appended, response.Outcome);
            proposed.Add(response.Version);
            // In the holder's log, and committed and applied there, once Propose returned.
            Assert.True(holderReplica.Log.LastVersion >= response.Version);
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (holderReplica.Current.Version < response.Version && DateTime.UtcNow < until) await Task.Delay(1, ct);
            Assert.Equal(response.Version, holderReplica.Current.Version);
        }

        Assert.All(proposed, v =>
        {
            Assert.True(logEndAtFirstSend.TryGetValue(v, out var logEnd), $"no append carried version {v}");
            Assert.True(logEnd < v, $"the append of version {v} left after the holder wrote it (its log ended at {logEnd})");
        });
        Assert.Equal(holderReplica.Log.LastVersion, followerReplica.Log.LastVersion);
    }

    public void Dispose() => _replicas.Dispose();
}
