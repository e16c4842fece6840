using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

internal sealed partial class LeaseSim
{
    /// <summary>How often the holder of an idle log (default config) renews its lease, in simulated ms.</summary>
    public static readonly long IdleHeartbeatMs = LeaseConfig.Default.HeartbeatTicks * LeaseConfig.Default.IdleFactor * TickMs;

    /// <summary>
    /// A cluster (default config) that elected a holder, took ten rounds of writes and then went quiet: quiet rounds at
    /// the normal pace, then two idle heartbeats, so the log is idle and every follower has been told.
    /// </summary>
    public static LeaseSim Idle(int seed, int voters, int learners, LeaseFaults? faults = null)
    {
        var config = LeaseConfig.Default;
        var sim = new LeaseSim(seed, voters, learners, faults ?? new LeaseFaults { MaxDelayMs = 5 });
        sim.Run(3_000);
        for (var i = 0; i < 10; i++) sim.Run(50, proposalsPerTick: 1);
        sim.Run(config.IdleAfterRounds * config.HeartbeatTicks * TickMs + 2 * IdleHeartbeatMs);
        return sim;
    }
}
