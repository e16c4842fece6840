using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The lease's running counts and quorum as the driver reports them for metrics and `status --json`
/// (<see cref="LeaseDriver.Counters"/>, <see cref="LeaseStatus"/>), on real drivers over the in-memory network:
/// elections, wins and holders seen through a start and a hand-over, each follower's lag with one stopped, the
/// proposals' outcomes, and rounds left to a flushing proposer.
/// </summary>
public sealed class LeaseDriverCountersTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private static readonly PeerId C = new(new string('c', 64));
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_lone_start_and_a_hand_over_count_exactly_their_campaigns_wins_and_holders()
    {
        var ct = TestContext.Current.CancellationToken;
        var wire = new MemoryLeaseNetwork();
        await using var a = wire.Join(A, _replicas.Founded(A));
        // The only voter campaigns at once: one pre-vote, one vote, one win, one holder (itself).
        a.Start([A, B]);
        await LeaseDriverWaits.HolderSettledAsync(a, ct);
        Assert.Equal(new LeaseCounters(PreVotesStarted: 1, VotesStarted: 1, ElectionsWon: 1, HolderChangesSeen: 1), a.Counters);
        // Joined only now: a driver disposed before it started fails in its disposal, which would hide the assert's message.
        await using var b = wire.Join(B, _replicas.Open());
        b.Start([A, B]);
        await LeaseDriverWaits.MakeVoterAsync(a, B, ct);
        await Until(() => b.Status.Holder == A && b.Status.Commit == a.Status.Commit, () => $"b follows {b.Status.Holder.Short} at {b.Status.Commit}", ct);
        var (aBefore, bBefore) = (a.Counters, b.Counters);
        Assert.Equal((0, 0, 0, 1), (bBefore.PreVotesStarted, bBefore.VotesStarted, bBefore.ElectionsWon, bBefore.HolderChangesSeen));

        // A hand-over: the target campaigns in a new term without a pre-vote (ordered by the holder) and wins; both
        // learn of one new holder, and only the old holder started a transfer.
        await a.TransferLeaseAsync(TimeSpan.FromSeconds(10));
        await Until(() => b.Status.Role == LeaseRole.Holder && a.Status.Holder == B, () => $"b is {b.Status.Role}, a follows {a.Status.Holder.Short}", ct);
        var (aAfter, bAfter) = (a.Counters, b.Counters);
        Assert.Equal((0, 1, 1, 1, 0), (bAfter.PreVotesStarted - bBefore.PreVotesStarted, bAfter.VotesStarted - bBefore.VotesStarted,
            bAfter.ElectionsWon - bBefore.ElectionsWon, bAfter.HolderChangesSeen - bBefore.HolderChangesSeen, bAfter.TransfersStarted));
        Assert.Equal((0, 0, 0, 1, 1), (aAfter.PreVotesStarted - aBefore.PreVotesStarted, aAfter.VotesStarted - aBefore.VotesStarted,
            aAfter.ElectionsWon - aBefore.ElectionsWon, aAfter.HolderChangesSeen - aBefore.HolderChangesSeen, aAfter.TransfersStarted));
        Assert.Equal(a.Status.Term, b.Status.Term);
    }

    [Fact]
    public async Task A_stopped_follower_lags_by_what_was_committed_since_and_loses_its_quorum_while_the_holder_keeps_one()
    {
        var ct = TestContext.Current.CancellationToken;
        var wire = new MemoryLeaseNetwork();
        var holderReplica = _replicas.Founded(A);
        await using var a = wire.Join(A, holderReplica);
        await using var b = wire.Join(B, _replicas.Open());
        await using var c = wire.Join(C, _replicas.Open());
        a.Start([A, B, C]);
        b.Start([A, B, C]);
        c.Start([A, B, C]);
        await LeaseDriverWaits.HolderSettledAsync(a, ct);
        ulong op = 0;
        foreach (var member in new[] { B, C })
        {
            Propose(a, new Mutation { Kind = new AdmitMember(member, $"127.0.0.{++op}:1"), Proposer = A, Op = new OpId([9], op) });
            await LeaseDriverWaits.HolderSettledAsync(a, ct);
        }
        // The holder's voter policy makes both members voters, one at a time, once they caught up.
        await Until(() => a.Status.Voters.Count == 3 && a.Status.Commit == a.Status.LastVersion, () => $"{a.Status.Voters.Count} voters", ct);
        await Until(() => a.Status.ReplicationLags.All(l => l.Value == 0) && a.Status.Matches.Count == 2, () => Lags(a), ct);
        Assert.True(a.Status.Quorum && b.Status.Quorum && c.Status.Quorum, "a member of a healthy cluster reports no quorum");
        Assert.Equal((3, 0), (a.Status.Voters.Count, a.Status.Learners));

        // c stops: nothing reaches it or comes from it any more.
        Assert.True(wire.Drivers.TryRemove(C, out _));
        var stoppedAt = a.Status.Commit;
        for (var i = 1; i <= 20; i++) Propose(a, TempReplicas.CreateInRoot($"f{i}", (ulong)i, A));
        await LeaseDriverWaits.HolderSettledAsync(a, ct);

        var status = a.Status;
        var lags = status.ReplicationLags.ToDictionary(l => l.Key, l => l.Value);
        Assert.True(lags[C] >= status.Commit - stoppedAt && status.Commit - stoppedAt >= 20, Lags(a));
        await Until(() => a.Status.ReplicationLags.Single(l => l.Key == B).Value == 0, () => Lags(a), ct);
        // The holder still hears from b (a majority of three); c hears no holder, and says so once its lease ran out.
        Assert.True(a.Status.Quorum, "the holder of a majority reports no quorum");
        await Until(() => !c.Status.Quorum, () => $"c ({c.Status.Role}) still reports a quorum", ct);
    }

    [Fact]
    public async Task Proposals_are_counted_by_how_they_ended_on_the_holder_and_for_their_proposer()
    {
        var ct = TestContext.Current.CancellationToken;
        var replica = _replicas.Founded(A);
        var wire = new MemoryLeaseNetwork();
        await using var a = wire.Join(A, replica);
        a.Start([A]);
        await LeaseDriverWaits.HolderSettledAsync(a, ct);
        var committer = new ClusterCommitter(a, replica, wire.From(A), NullLogger.Instance);

        var create = TempReplicas.CreateInRoot("x", 1, A);
        Assert.True((await committer.CommitAsync(create, ct)).Ok);
        // The same change again (a retry of its proposer): answered from the op-id table, not appended.
        Assert.Equal(ProposeOutcome.Duplicate, a.Propose(create, MutationCodec.Encode(create)).Outcome);
        // Another change creating the same name: the holder refuses it.
        Assert.False((await committer.CommitAsync(TempReplicas.CreateInRoot("x", 2, A), ct)).Ok);

        var counted = a.Counters;
        Assert.Equal((1, 1, 0, 0), (counted.Committed, counted.CommitsRefused, counted.CommitsTimedOut, counted.CommitsWithoutQuorum));
        // Appended: the founder's no-op of its term is the machine's own, not a proposal; the create is.
        Assert.Equal((1, 1, 1, 0), (counted.ProposalsAppended, counted.ProposalsRetried, counted.ProposalsRefused, counted.ProposalsNotHolder));
    }

    [Fact]
    public async Task An_input_whose_round_waits_for_a_flushing_proposer_is_counted()
    {
        var ct = TestContext.Current.CancellationToken;
        var wire = new MemoryLeaseNetwork(deliverOnFlush: true);
        await using var a = wire.Join(A, _replicas.Founded(A));
        await using var b = wire.Join(B, _replicas.Open());
        a.Start([A, B]);
        b.Start([A, B]);
        await LeaseDriverWaits.HolderSettledAsync(a, ct);
        // Two voters: every proposal's appends to b leave before the holder writes its entry, outside the lock.
        await LeaseDriverWaits.MakeVoterAsync(a, B, ct);
        await Until(() => b.Status.Applied >= a.Status.Commit, () => "b did not catch up", ct);

        // On the proposer's thread, as its appends are about to be flushed: an input (an empty batch from b) takes the
        // lock, and its round must wait for the proposer.
        var proposer = Environment.CurrentManagedThreadId;
        var armed = 0;
        wire.BeforeFlush = from =>
        {
            if (from == A && Environment.CurrentManagedThreadId == proposer && Interlocked.Exchange(ref armed, 0) == 1) a.Receive(B, []);
        };
        var before = a.Counters.RoundsDeferred;
        Volatile.Write(ref armed, 1);
        Propose(a, TempReplicas.CreateInRoot("y", 1, A));

        Assert.Equal(0, Volatile.Read(ref armed));
        Assert.True(a.Counters.RoundsDeferred >= before + 1, $"{a.Counters.RoundsDeferred} rounds deferred, {before} before");
        await LeaseDriverWaits.HolderSettledAsync(a, ct);
    }

    private static void Propose(LeaseDriver holder, Mutation mutation) =>
        Assert.Equal(ProposeOutcome.Appended, holder.Propose(mutation, MutationCodec.Encode(mutation)).Outcome);

    private static string Lags(LeaseDriver holder) =>
        $"commit {holder.Status.Commit}, lags " + string.Join(", ", holder.Status.ReplicationLags.Select(l => $"{l.Key.Short}={l.Value}"));

    private static async Task Until(Func<bool> condition, Func<string> what, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"not within 20 s: {what()}");
            await Task.Delay(10, ct);
        }
    }

    public void Dispose() => _replicas.Dispose();
}
