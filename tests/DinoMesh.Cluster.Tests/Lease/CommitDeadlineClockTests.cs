using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A commit's deadline is measured on the monotonic clock: the wall clock stepped forward (NTP, an administrator's
/// `date -s`) while commits wait for a holder must not fail them all with ETIMEDOUT, and stepped back it must not
/// stretch their wait past the commit timeout.
/// </summary>
public sealed class CommitDeadlineClockTests : IDisposable
{
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly LeaseTiming Timing = new() { CommitTimeout = TimeSpan.FromSeconds(3) };
    // Room for the holder to step down while its majority's answers are held, win again once they come and take the
    // change again, on a loaded machine: only the step, not the machine, may end the first test's commit early.
    private static readonly LeaseTiming RoomyTiming = new() { CommitTimeout = TimeSpan.FromSeconds(10) };
    private readonly TempReplicas _replicas = new();

    [Fact]
    public async Task A_commit_waiting_for_its_majority_survives_the_wall_clock_stepping_an_hour_forward()
    {
        var ct = TestContext.Current.CancellationToken;
        var (holderReplica, followerReplica) = (_replicas.Founded(A), _replicas.Open());
        var wire = new MemoryLeaseNetwork();
        var holder = wire.Join(A, holderReplica, RoomyTiming);
        var follower = wire.Join(B, followerReplica, RoomyTiming);
        await using var _ = holder;
        await using var __ = follower;
        holder.Start([A, B]);
        follower.Start([A, B]);
        await LeaseDriverWaits.HolderSettledAsync(holder, ct);
        await LeaseDriverWaits.MakeVoterAsync(holder, B, ct);
        var clock = new SteppedWallClock();
        var committer = new ClusterCommitter(holder, holderReplica, wire.From(A), NullLogger.Instance, clock);
        Assert.True((await committer.CommitAsync(TempReplicas.CreateInRoot("warm", 1, A), ct)).Ok);

        // The follower's acknowledgements are held, so the next change waits for its majority across the step, longer
        // than the committer's patience: it looks at its deadline again before the answers come.
        wire.HoldAnswers();
        var commit = committer.CommitAsync(TempReplicas.CreateInRoot("after-the-step", 2, A), ct).AsTask();
        await Task.Delay(300, ct);
        clock.Step = TimeSpan.FromHours(1);
        var patience = RoomyTiming.Tick * RoomyTiming.Machine.ElectionTicks * 2;
        await Task.Delay(patience + TimeSpan.FromMilliseconds(300), ct);
        var endedDuringTheHold = commit.IsCompleted;
        wire.ReleaseAnswers();

        var result = await commit.WaitAsync(Patience, ct);
        Assert.False(endedDuringTheHold, $"the commit ended while its majority was held: {result.Error}");
        Assert.True(result.Ok, $"a commit whose majority answered within the timeout was answered {result.Error}");
    }

    [Fact]
    public async Task A_commit_with_no_holder_times_out_on_time_when_the_wall_clock_steps_back()
    {
        var ct = TestContext.Current.CancellationToken;
        var (replica, followerReplica) = (_replicas.Founded(A), _replicas.Open());
        var wire = new MemoryLeaseNetwork();
        var lease = wire.Join(A, replica, Timing);
        var follower = wire.Join(B, followerReplica, Timing);
        await using var _ = lease;
        await using var __ = follower;
        lease.Start([A, B]);
        follower.Start([A, B]);
        await LeaseDriverWaits.HolderSettledAsync(lease, ct);
        await LeaseDriverWaits.MakeVoterAsync(lease, B, ct);
        // B is a voter that no message reaches from now on: A alone is no majority, so nothing commits.
        Assert.True(wire.Drivers.TryRemove(B, out var ___));
        var clock = new SteppedWallClock();
        var committer = new ClusterCommitter(lease, replica, wire.From(A), NullLogger.Instance, clock);

        var commit = committer.CommitAsync(TempReplicas.CreateInRoot("never", 1, A), ct).AsTask();
        await Task.Delay(300, ct);
        clock.Step = -TimeSpan.FromHours(1);

        // Bounded by the commit timeout, with room for a loaded machine; a wall-clock deadline would wait an hour more.
        var result = await commit.WaitAsync(Timing.CommitTimeout * 4, ct);
        Assert.Equal(FsError.TimedOut, result.Error);
    }

    public void Dispose() => _replicas.Dispose();

    /// <summary>The system's clocks, with the wall clock stepped by <see cref="Step"/>; timestamps stay monotonic.</summary>
    private sealed class SteppedWallClock : TimeProvider
    {
        public TimeSpan Step { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Step;
    }
}
