using System.Collections.Concurrent;
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
        var wire = new MemoryLeaseNetwork(deliverOnFlush: true);
        var (holderReplica, followerReplica) = (_replicas.Open(), _replicas.Open());
        await using var holder = wire.Join(A, holderReplica);
        await using var follower = wire.Join(B, followerReplica);
        await StartTwoVotersAsync(holder, follower, holderReplica, ct);
        var logEndAtFirstSend = RecordLogEndAtFirstSend(wire, holderReplica);

        var proposed = new List<long>();
        for (var i = 1; i <= 20; i++) proposed.Add(await ProposeAndApplyAsync(holder, holderReplica, i, ct));

        AssertEachLeftBeforeItsWrite(proposed, logEndAtFirstSend);
        Assert.Equal(holderReplica.Log.LastVersion, followerReplica.Log.LastVersion);
    }

    /// <summary>
    /// The race behind an intermittent failure of the test above: between the proposer queueing its appends (under the
    /// driver's lock) and flushing them (outside it), another thread hands the driver an input (here an empty batch
    /// from the follower; an answer, a tick or a member change takes the same path) and acts on the machine's output,
    /// which holds the proposal's entry. The proposer's flush is held until that input is done, every time, so the
    /// interleaving is not left to the scheduler. Acting on that output then must not write the entry before its
    /// appends left.
    /// </summary>
    [Fact]
    public async Task Another_threads_input_between_a_proposals_queueing_and_its_flush_does_not_write_the_entry_first()
    {
        var ct = TestContext.Current.CancellationToken;
        var wire = new MemoryLeaseNetwork(deliverOnFlush: true);
        var (holderReplica, followerReplica) = (_replicas.Open(), _replicas.Open());
        await using var holder = wire.Join(A, holderReplica);
        await using var follower = wire.Join(B, followerReplica);
        await StartTwoVotersAsync(holder, follower, holderReplica, ct);
        var logEndAtFirstSend = RecordLogEndAtFirstSend(wire, holderReplica);

        // The thread that proposes (Propose flushes on it) and whether its next flush lets the other input in first.
        var proposer = 0;
        var armed = 0;
        var intruded = 0;
        wire.BeforeFlush = from =>
        {
            if (from != A || Environment.CurrentManagedThreadId != Volatile.Read(ref proposer)) return;
            // Only while an append of an entry the holder has not written yet waits to leave: the proposal's own.
            var unwritten = wire.UnflushedFrom(A).OfType<Append>().Any(a => a.Entries.Any(e => e.Version > holderReplica.Log.LastVersion));
            if (!unwritten || Interlocked.Exchange(ref armed, 0) != 1) return;
            // Counted only when it finished first (bounded): the count below fails the test otherwise.
            if (Task.Run(() => holder.Receive(B, [])).Wait(TimeSpan.FromSeconds(10))) Interlocked.Increment(ref intruded);
        };

        // Until five proposals had the other input in that gap. A proposal whose append another thread's flush (the
        // tick's, an answer's) took before the proposer's own had no gap to force, and does not count: at most 20.
        var proposed = new List<long>();
        for (var i = 1; i <= 20 && Volatile.Read(ref intruded) < 5; i++)
        {
            Volatile.Write(ref proposer, Environment.CurrentManagedThreadId);
            Volatile.Write(ref armed, 1);
            proposed.Add(await ProposeAndApplyAsync(holder, holderReplica, i, ct));
        }

        Assert.Equal(5, Volatile.Read(ref intruded));
        AssertEachLeftBeforeItsWrite(proposed, logEndAtFirstSend);
        Assert.Equal(holderReplica.Log.LastVersion, followerReplica.Log.LastVersion);
    }

    /// <summary>Starts both drivers and makes B a voter, caught up, so each proposal's own round sends it its append.</summary>
    private static async Task StartTwoVotersAsync(LeaseDriver holder, LeaseDriver follower, MetadataReplica holderReplica, CancellationToken ct)
    {
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });
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
    }

    /// <summary>For each version, the end of the holder's log when the first append carrying it left.</summary>
    private static ConcurrentDictionary<long, long> RecordLogEndAtFirstSend(MemoryLeaseNetwork wire, MetadataReplica holderReplica)
    {
        var logEndAtFirstSend = new ConcurrentDictionary<long, long>();
        wire.Flushing = (from, _, message) =>
        {
            if (from != A || message is not Append { Entries.Length: > 0 } append) return;
            foreach (var entry in append.Entries) logEndAtFirstSend.TryAdd(entry.Version, holderReplica.Log.LastVersion);
        };
        return logEndAtFirstSend;
    }

    /// <summary>Proposes the <paramref name="i"/>th create on the holder and waits (bounded) until it applied it there.</summary>
    private static async Task<long> ProposeAndApplyAsync(LeaseDriver holder, MetadataReplica holderReplica, int i, CancellationToken ct)
    {
        var create = TempReplicas.CreateInRoot($"f{i}", (ulong)i, A);
        var response = holder.Propose(create, Core.Wire.MutationCodec.Encode(create));
        Assert.Equal(ProposeOutcome.Appended, response.Outcome);
        // In the holder's log, and committed and applied there, once Propose returned.
        Assert.True(holderReplica.Log.LastVersion >= response.Version);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (holderReplica.Current.Version < response.Version && DateTime.UtcNow < until) await Task.Delay(1, ct);
        Assert.Equal(response.Version, holderReplica.Current.Version);
        return response.Version;
    }

    private static void AssertEachLeftBeforeItsWrite(List<long> proposed, ConcurrentDictionary<long, long> logEndAtFirstSend) =>
        Assert.All(proposed, v =>
        {
            Assert.True(logEndAtFirstSend.TryGetValue(v, out var logEnd), $"no append carried version {v}");
            Assert.True(logEnd < v, $"the append of version {v} left after the holder wrote it (its log ended at {logEnd})");
        });

    public void Dispose() => _replicas.Dispose();
}
