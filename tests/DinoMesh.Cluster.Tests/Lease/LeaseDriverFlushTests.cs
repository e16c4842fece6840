using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The thread hops of a commit: a round's messages leave when the driver flushes its network (on the thread that made
/// the round), and a committed caller goes on on the thread that applied its change, after the round's events.
/// </summary>
public sealed class LeaseDriverFlushTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_round_leaves_on_flush_and_a_network_that_sends_only_then_commits()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (_replicas.Open(), _replicas.Open());
        var wire = new MemoryLeaseNetwork(deliverOnFlush: true);
        await using var holder = Start(wire, holderReplica, followerReplica, out var follower);
        await using var _ = follower;
        await LeaseDriverWaits.HolderSettledAsync(holder, ct);

        var noop = new Mutation { Kind = new Noop(), Proposer = A, Op = new OpId([1], 1) };
        Assert.Equal(ProposeOutcome.Appended, holder.Propose(noop, Core.Wire.MutationCodec.Encode(noop)).Outcome);
        // The round's appends were flushed before Propose returned: nothing of it waits for a later round.
        Assert.Equal(0, wire.Unflushed(A));
        Assert.True(wire.Flushed(A) > 0, "the holder's appends left on a flush");

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (followerReplica.Current.Version < holderReplica.Log.LastVersion && DateTime.UtcNow < until) await Task.Delay(10, ct);
        Assert.Equal(holderReplica.Log.LastVersion, holderReplica.Current.Version);
        Assert.Equal(holderReplica.Log.LastVersion, followerReplica.Current.Version);
    }

    [Fact]
    public async Task A_committed_caller_goes_on_on_the_thread_that_applied_its_change()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (_replicas.Open(), _replicas.Open());
        var wire = new MemoryLeaseNetwork(deliverOnFlush: true);
        await using var holder = Start(wire, holderReplica, followerReplica, out var follower);
        await using var _ = follower;
        await LeaseDriverWaits.HolderSettledAsync(holder, ct);
        await LeaseDriverWaits.MakeVoterAsync(holder, B, ct);
        var committer = new ClusterCommitter(holder, holderReplica, wire.From(A), NullLogger.Instance);
        var lastEventVersion = 0L;
        holderReplica.Applied += (_, result) => Volatile.Write(ref lastEventVersion, result.State.Version);

        var noop = new Mutation { Kind = new Noop(), Proposer = A, Op = new OpId([2], 1) };
        // The follower's answer is held until the caller waits for its commit, so the commit cannot finish on the
        // caller's own thread before it waits.
        wire.HoldAnswers();
        var answeredInRound = false;
        var eventsDone = 0L;
        async Task<ApplyResult> CommitAsync()
        {
            var result = await committer.CommitAsync(noop, ct);
            // Checked before anything else awaits: the continuation runs inside the round that applied the change
            // (the holder's handling of the follower's answer, or a tick that got there first), called from the
            // committer's answering of applied callers, not after a hop to the thread pool.
            answeredInRound = Environment.StackTrace.Contains("ClusterCommitter.AnswerApplied", StringComparison.Ordinal);
            eventsDone = Volatile.Read(ref lastEventVersion);
            return result;
        }
        // On the thread pool, as the node's FUSE handlers run: no synchronization context to post the continuation to.
        var commit = Task.Run(CommitAsync, ct);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (wire.AnswersHeld == 0 && DateTime.UtcNow < until) await Task.Delay(5, ct);
        // The answer being held says the proposal left, not that the caller reached its wait: on a loaded machine its
        // thread can be descheduled between the two, and a commit done before the caller waits is rightly picked up
        // on the caller's own thread (CI saw that once). A moment lets it get to the wait.
        await Task.Delay(100, ct);
        wire.ReleaseAnswers();
        var result = await commit;

        Assert.True(result.Ok);
        Assert.True(answeredInRound, "the caller went on on the thread that applied its change, within that round");
        Assert.True(eventsDone >= result.State.Version, "the replica had raised the round's events before the caller went on");
    }

    [Fact]
    public async Task Status_reports_the_hold_back_policies_and_the_counts_they_judge_by()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (_replicas.Open(), _replicas.Open());
        var wire = new MemoryLeaseNetwork(deliverOnFlush: true);
        await using var holder = Start(wire, holderReplica, followerReplica, out var follower);
        await using var _ = follower;
        await LeaseDriverWaits.HolderSettledAsync(holder, ct);
        await LeaseDriverWaits.MakeVoterAsync(holder, B, ct);
        // Until the voter change committed, B was a learner the majority did not need: an append to it may have been
        // deferred then. Counted from when B has every entry, so only the two-voter stream below is judged.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (follower.Status.Applied < holder.Status.Commit && DateTime.UtcNow < until) await Task.Delay(10, ct);
        Assert.True(follower.Status.Applied >= holder.Status.Commit, "the follower did not catch up with the voter change");
        var before = holder.HoldBack;
        var committer = new ClusterCommitter(holder, holderReplica, wire.From(A), NullLogger.Instance);

        // One writer streaming changes: each commit's notice to the follower rides on the next change's append.
        for (var i = 1; i <= 40; i++)
        {
            var noop = new Mutation { Kind = new Noop(), Proposer = A, Op = new OpId([3], (ulong)i) };
            Assert.True((await committer.CommitAsync(noop, ct)).Ok);
        }

        var hold = holder.HoldBack;
        Assert.True(hold.NoticesCarried > before.NoticesCarried, $"no held notice rode on an append: {hold}");
        Assert.True(hold.HoldingNotices, $"holding notices back stopped for a streaming writer: {hold}");
        Assert.True(hold.DeferringAppends, $"deferral is off: {hold}");
        // Two voters: the follower is needed for every majority, so nothing is deferred to it.
        Assert.Equal(before.DeferralsMerged + before.DeferralsAlone, hold.DeferralsMerged + hold.DeferralsAlone);
        Assert.Equal(new LeaseHoldBack(true, 0, 0, 0, true, 0, 0, 0, 0), follower.HoldBack);
    }

    private LeaseDriver Start(MemoryLeaseNetwork wire, MetadataReplica holderReplica, MetadataReplica followerReplica, out LeaseDriver follower)
    {
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });
        var holder = wire.Join(A, holderReplica);
        follower = wire.Join(B, followerReplica);
        holder.Start([A, B]);
        follower.Start([A, B]);
        return holder;
    }

    public void Dispose() => _replicas.Dispose();
}
