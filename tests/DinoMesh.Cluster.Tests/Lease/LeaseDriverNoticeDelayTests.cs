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
        var (holder, clock, follower, replica) = await HandClockedVoters.StartAsync(_replicas, wire, A, B, Timing, ct);
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

    public void Dispose() => _replicas.Dispose();
}
