using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The holder's default deadline for held commit notices (LeaseTiming.CommitNoticeDelay) leaves a writer on a loaded
/// machine room to be late: one whose next change comes 1.5 ms after each commit still carries every notice on its next
/// append, none goes alone, and the notice policy never stops holding. (With the 1 ms deadline on the clock's grid each
/// of those notices was due before the next change, went alone, and five of them stopped the policy.)
/// </summary>
public sealed class LeaseDriverNoticeDelayTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    // Ticks of 3 s: no heartbeat carries a commit while the test looks at the notices; the default notice delay.
    private static readonly LeaseTiming Timing = new() { Tick = TimeSpan.FromSeconds(3) };
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_writer_whose_next_change_comes_1_5_ms_after_each_commit_carries_every_notice()
    {
        var ct = TestContext.Current.CancellationToken;
        var wire = new MemoryLeaseNetwork();
        var (holder, clock, follower, replica) = await StartTwoVotersAsync(wire, ct);
        await using var _ = holder;
        await using var __ = follower;
        var committer = new ClusterCommitter(holder, replica, wire.From(A), NullLogger.Instance);
        var before = holder.HoldBack;

        const int Changes = 60;
        for (var i = 1; i <= Changes; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1.5));
            var noop = new Mutation { Kind = new Noop(), Proposer = A, Op = new OpId([6], (ulong)i) };
            Assert.True((await committer.CommitAsync(noop, ct)).Ok);
        }

        var hold = holder.HoldBack;
        Assert.Equal(before.NoticesSentAlone, hold.NoticesSentAlone);
        Assert.True(hold.NoticesCarried - before.NoticesCarried >= Changes - 1, $"the held notices did not ride on the appends: {hold}");
        Assert.True(hold.HoldingNotices);
        Assert.Equal(before.NoticePolicyFlips, hold.NoticePolicyFlips);
    }

    [Fact]
    public void The_default_notice_delay_is_within_the_deferred_followers()
    {
        // A follower told of a commit by a held notice learns it no later than a deferred follower learns its entries:
        // the notice delay adds nothing to how stale the slowest follower may be.
        var timing = new LeaseTiming();
        Assert.True(timing.CommitNoticeDelay <= timing.DeferredAppendDelay);
        Assert.True(timing.CommitNoticeDelay >= TimeSpan.FromMilliseconds(2));
    }

    private async Task<(LeaseDriver Holder, HandClock Clock, LeaseDriver Follower, MetadataReplica Replica)> StartTwoVotersAsync(MemoryLeaseNetwork wire, CancellationToken ct)
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
        // Whatever the setup held back goes now, and B has every entry before the test starts.
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
}
