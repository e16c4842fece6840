using DinoMesh.Cluster.Tests.Membership;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A one-node cluster's lease cannot lapse: its only voter is its own majority. Timers that fire late (a CPU-starved
/// or stopped process, a clock stepped forward) only count ticks on a lone holder: check-quorum counts the holder
/// itself, so it never steps down, no election (pre-vote, randomized timeout) ever runs again, and a proposal made right
/// after the stall commits in the same step. Asked after a lone JIT node on a loaded machine failed a commit after its
/// 10 s timeout with "no holder reachable with a majority": the lease was not where the time went (docs/benchmarks.md).
/// </summary>
public class LeaseLoneVoterTests
{
    private static int Schedules => SimSeed.Schedules(40);

    [Fact]
    public void A_lone_voter_keeps_its_lease_through_clock_jumps_and_stalls_and_commits_at_once()
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(400_000, Schedules);
        foreach (var seed in seeds)
        {
            var random = new Random(seed);
            // Learners too, sometimes: they must not change what the lone voter needs.
            var sim = new LeaseSim(seed, voters: 1, learners: seed % 3, new LeaseFaults());
            sim.Run(3_000);
            var holder = Assert.Single(sim.Holders);
            var term = holder.Machine.Term;
            for (var step = 0; step < 30; step++)
            {
                // Late timers: a burst of ticks at once (up to 100 s), or none for a while and then the rest.
                if (random.Next(2) == 0) sim.JumpClock(holder, 1 + random.Next(2_000));
                else sim.Stall(holder, 1 + random.Next(400));
                sim.Run(50 + random.Next(20_000), proposalsPerTick: random.NextDouble() * 0.5);
                Assert.True(holder.Machine.IsHolder && holder.Machine.Term == term, $"the lone voter lost its lease (step {step}); {sim.Replay}");
                if (holder.Stalled > 0) sim.Run(holder.Stalled * 50L);
                var version = sim.ProposeAnywhere();
                Assert.True(version > 0, $"the lone holder refused a proposal (step {step}); {sim.Replay}");
                Assert.True(holder.Machine.Commit >= version, $"version {version} not committed at once (commit {holder.Machine.Commit}); {sim.Replay}");
            }
            sim.HealAndCheckConverged();
        }
    }
}
