using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The holder's clock for held commit notices (LeaseDriver.Notices.cs), on a clock moved by hand: under a steady writer
/// each held notice rides on the next append and the clock never passes; when the writer stops, the notice still goes
/// at its deadline (LeaseTiming.CommitNoticeDelay), and no later.
/// </summary>
public sealed class LeaseDriverHoldBackClockTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    // Ticks of 3 s: no heartbeat (every 3 ticks) carries a commit while a test looks at the notices, even on a slow
    // machine; nothing here waits for a tick (the founder campaigns at once, the follower gets entries in rounds).
    private static readonly LeaseTiming Timing = new() { Tick = TimeSpan.FromSeconds(3) };
    private static readonly TimeSpan Between = TimeSpan.FromMilliseconds(0.3);
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_steady_writer_moves_the_deadline_later_and_the_clock_does_not_pass()
    {
        var ct = TestContext.Current.CancellationToken;
        var wire = new MemoryLeaseNetwork(deliverOnFlush: true);
        var (holder, clock, follower, replica) = await HandClockedVoters.StartAsync(_replicas, wire, A, B, Timing, ct);
        await using var _ = holder;
        await using var __ = follower;
        var committer = new ClusterCommitter(holder, replica, wire.From(A), NullLogger.Instance);
        var before = holder.HoldBack;
        var passesBefore = clock.Passes;

        // One writer: a change every 0.3 ms of the clock, each commit's notice to B held until the next append.
        const int Changes = 200;
        for (var i = 1; i <= Changes; i++)
        {
            clock.Advance(Between);
            var noop = new Mutation { Kind = new Noop(), Proposer = A, Op = new OpId([4], (ulong)i) };
            Assert.True((await committer.CommitAsync(noop, ct)).Ok);
        }

        var hold = holder.HoldBack;
        Assert.True(hold.NoticesCarried - before.NoticesCarried >= Changes * 9 / 10, $"the held notices did not ride on the appends: {hold}");
        Assert.Equal(before.NoticesSentAlone, hold.NoticesSentAlone);
        // A clock moved only earlier would pass every 3-4 changes here (its first deadline stays while the later ones
        // are carried): 50-70 passes, nearly all with nothing due.
        Assert.True(clock.Passes - passesBefore <= 1, $"the clock passed {clock.Passes - passesBefore} times in {Changes} changes");
        Assert.Equal(clock.Passes, (int)holder.HoldBackClockPasses.Passes);
    }

    [Fact]
    public async Task When_the_writer_stops_the_held_notice_goes_at_its_deadline()
    {
        var ct = TestContext.Current.CancellationToken;
        var wire = new MemoryLeaseNetwork(deliverOnFlush: true);
        var (holder, clock, follower, replica) = await HandClockedVoters.StartAsync(_replicas, wire, A, B, Timing, ct);
        await using var _ = holder;
        await using var __ = follower;
        var committer = new ClusterCommitter(holder, replica, wire.From(A), NullLogger.Instance);
        for (var i = 1; i <= 10; i++)
        {
            clock.Advance(Between);
            var noop = new Mutation { Kind = new Noop(), Proposer = A, Op = new OpId([5], (ulong)i) };
            Assert.True((await committer.CommitAsync(noop, ct)).Ok);
        }
        var commit = holder.Status.Commit;
        // The last commit's notice is held: B has the entry, not the news that it committed.
        Assert.True(follower.Status.Commit < commit, "the last notice was not held");
        // The clock did not move since the notice became owed: it is set for the notice deadline, rounded up to the
        // clock's next whole millisecond (at most a millisecond more).
        var owed = clock.Now + HandClock.Ticks(Timing.CommitNoticeDelay);
        var due = clock.Due;
        Assert.InRange(due, owed, owed + HandClock.Ticks(TimeSpan.FromMilliseconds(1)) - 1);
        Assert.Equal(0, due % HandClock.Ticks(TimeSpan.FromMilliseconds(1)));

        clock.AdvanceTo(due - 1);
        Assert.Empty(wire.AppendsCarrying(A, B, commit));
        var passes = clock.Passes;
        var duePasses = holder.HoldBackClockPasses.Due;
        clock.AdvanceTo(due);

        Assert.Equal(passes + 1, clock.Passes);
        // The pass sent it at once, on the clock's thread: an empty append with the commit.
        var notice = Assert.Single(wire.AppendsCarrying(A, B, commit));
        Assert.Empty(notice.Entries);
        Assert.Equal(duePasses + 1, holder.HoldBackClockPasses.Due);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (follower.Status.Commit < commit && DateTime.UtcNow < until) await Task.Delay(5, ct);
        Assert.Equal(commit, follower.Status.Commit);
        // Nothing is held any more: the clock is not set again.
        Assert.Equal(long.MaxValue, clock.Due);
    }

    public void Dispose() => _replicas.Dispose();
}
