using System.Collections.Concurrent;
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
        var wire = new RecordingWire();
        var (holder, clock, follower, replica) = await StartTwoVotersAsync(wire, ct);
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
        var wire = new RecordingWire();
        var (holder, clock, follower, replica) = await StartTwoVotersAsync(wire, ct);
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

    private async Task<(LeaseDriver Holder, HandClock Clock, LeaseDriver Follower, MetadataReplica Replica)> StartTwoVotersAsync(RecordingWire wire, CancellationToken ct)
    {
        var (holderReplica, followerReplica) = (_replicas.Open(), _replicas.Open());
        LeaseDriver.Found(holderReplica, new Mutation { Kind = new Genesis(new byte[16], A), Proposer = A, TimeNs = 1 });
        HandClock? clock = null;
        var holder = new LeaseDriver(A, holderReplica, wire.From(A), Timing, NullLogger.Instance, onDue => clock = new HandClock(onDue));
        var follower = new LeaseDriver(B, followerReplica, wire.From(B), Timing, NullLogger.Instance, onDue => new HandClock(onDue));
        wire.Drivers[A] = holder;
        wire.Drivers[B] = follower;
        holder.Start([A, B]);
        follower.Start([A, B]);
        await WaitForCommittedAsync(holder, ct);
        var admit = new Mutation { Kind = new AdmitMember(B, "127.0.0.2:1"), Proposer = A, Op = new OpId([9], 1) };
        var voters = new Mutation { Kind = new SetVoters([A, B]), Proposer = A, Op = new OpId([9], 2) };
        foreach (var change in new[] { admit, voters })
        {
            Assert.Equal(ProposeOutcome.Appended, holder.Propose(change, Core.Wire.MutationCodec.Encode(change)).Outcome);
            await WaitForCommittedAsync(holder, ct);
        }
        Assert.Contains(B, holder.Status.Voters);
        // Whatever the setup held back goes now, and B has every entry before a test starts.
        clock!.Advance(TimeSpan.FromMilliseconds(10));
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (follower.Status.Commit < holder.Status.Commit && DateTime.UtcNow < until) await Task.Delay(5, ct);
        Assert.Equal(holder.Status.Commit, follower.Status.Commit);
        return (holder, clock, follower, holderReplica);
    }

    private static async Task WaitForCommittedAsync(LeaseDriver holder, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while ((holder.Status is not { Role: LeaseRole.Holder } status || status.Commit < status.LastVersion || status.Applied < status.Commit)
               && DateTime.UtcNow < until)
        {
            await Task.Delay(5, ct);
        }
        Assert.Equal(LeaseRole.Holder, holder.Status.Role);
    }

    public void Dispose() => _replicas.Dispose();

    /// <summary>
    /// Records what each driver sends and delivers it when that driver flushes, each call on a thread of its own; the
    /// answer goes back to the sender on that thread.
    /// </summary>
    private sealed class RecordingWire
    {
        private readonly ConcurrentDictionary<PeerId, ConcurrentQueue<(PeerId To, LeaseMessage Message)>> _queued = new();
        private readonly ConcurrentQueue<(PeerId From, PeerId To, LeaseMessage Message)> _sent = new();

        public ConcurrentDictionary<PeerId, LeaseDriver> Drivers { get; } = new();

        public ILeaseNetwork From(PeerId self) => new Endpoint(this, self);

        /// <summary>Appends <paramref name="from"/> sent <paramref name="to"/> that told it of <paramref name="commit"/> or later.</summary>
        public List<Append> AppendsCarrying(PeerId from, PeerId to, long commit) =>
            [.. _sent.Where(s => s.From == from && s.To == to).Select(s => s.Message).OfType<Append>().Where(a => a.Commit >= commit)];

        private void Flush(PeerId from)
        {
            if (!_queued.TryGetValue(from, out var queue)) return;
            while (queue.TryDequeue(out var item))
            {
                var (to, message) = item;
                _ = Task.Run(() =>
                {
                    if (!Drivers.TryGetValue(to, out var receiver) || !Drivers.TryGetValue(from, out var sender)) return;
                    var answers = receiver.ReceiveAndAnswer(from, [message]);
                    if (answers.Count > 0) sender.Receive(to, answers);
                });
            }
        }

        private sealed class Endpoint(RecordingWire wire, PeerId self) : ILeaseNetwork
        {
            public void Send(PeerId to, LeaseMessage message)
            {
                wire._sent.Enqueue((self, to, message));
                wire._queued.GetOrAdd(self, _ => new()).Enqueue((to, message));
            }

            public void Flush() => wire.Flush(self);

            public Task<ProposeResponse?> ProposeAsync(PeerId holder, byte[] mutation, TimeSpan deadline, CancellationToken ct) =>
                Task.FromResult<ProposeResponse?>(null);

            public Task<SyncResponse?> SyncAsync(PeerId holder, long version, TimeSpan deadline, CancellationToken ct) =>
                Task.FromResult<SyncResponse?>(null);

            public Task<ReadIndexResponse?> ReadIndexAsync(PeerId holder, TimeSpan deadline, CancellationToken ct) =>
                Task.FromResult<ReadIndexResponse?>(null);
        }
    }
}
