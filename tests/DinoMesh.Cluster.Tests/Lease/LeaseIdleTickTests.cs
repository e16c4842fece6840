using DinoMesh.Cluster.Lease;
using DinoMesh.Cluster.Tests.Membership;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// <see cref="DinoMesh.Cluster.Lease.LeaseLog.TicksUntilDue"/>, which lets the driver sleep through ticks that only count.
/// Every simulated tick (here and in <see cref="LeaseSimulationTests"/>) checks that a tick the machine called not due
/// changes nothing visible; these tests make sure such ticks occur, and that a lone holder sleeps for good.
/// </summary>
public class LeaseIdleTickTests
{
    [Fact]
    public void A_lone_voter_holding_the_lease_has_no_tick_due()
    {
        var sim = new LeaseSim(SimSeed.Get(21), voters: 1, learners: 0, new LeaseFaults());
        sim.Run(2_000);
        var holder = Assert.Single(sim.Holders);
        Assert.Equal(int.MaxValue, holder.Machine.TicksUntilDue);
        for (var i = 0; i < 10; i++) sim.Run(50, proposalsPerTick: 1);
        sim.Run(500);
        Assert.Equal(int.MaxValue, holder.Machine.TicksUntilDue);
    }

    [Fact]
    public void An_idle_three_voter_cluster_spends_most_ticks_only_counting()
    {
        var sim = new LeaseSim(SimSeed.Get(22), voters: 3, learners: 0, new LeaseFaults());
        sim.Run(3_000);
        var holder = Assert.Single(sim.Holders);
        var quietBefore = sim.QuietTicks;
        sim.Run(10_000);
        Assert.Same(holder, Assert.Single(sim.Holders));
        // 3 nodes x 200 ticks: the holder acts on its heartbeat rounds (every 12th tick once the log idles), followers on
        // gossip rounds and not at all for elections while the holder's appends arrive.
        var quiet = sim.QuietTicks - quietBefore;
        Assert.True(quiet >= 480, $"only {quiet} of 600 ticks were quiet; {sim.Replay}");
        var interval = LeaseConfig.Default.HeartbeatTicks * LeaseConfig.Default.IdleFactor;
        Assert.True(holder.Machine.TicksUntilDue <= interval, $"the holder's next heartbeat is {holder.Machine.TicksUntilDue} ticks away; {sim.Replay}");
    }

    [Fact]
    public void Quiet_ticks_stay_quiet_under_loss_duplication_and_partitions()
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(70_000, 20);
        foreach (var seed in seeds)
        {
            var sim = new LeaseSim(seed, voters: 3 + seed % 3, learners: seed % 3, new LeaseFaults { Loss = 0.1, Duplicate = 0.05, MaxDelayMs = 40 });
            for (var i = 0; i < 40; i++)
            {
                if (sim.Random.Next(10) == 0) sim.RandomPartition();
                if (sim.Random.Next(10) == 0) sim.Heal();
                sim.Run(250, proposalsPerTick: 0.3);
            }
            Assert.True(sim.QuietTicks > 0, $"no quiet tick to check; {sim.Replay}");
        }
    }
}
