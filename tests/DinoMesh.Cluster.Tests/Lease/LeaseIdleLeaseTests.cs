using DinoMesh.Cluster.Lease;
using DinoMesh.Cluster.Tests.Membership;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The idle lease (<see cref="LeaseConfig.IdleFactor"/>): a log nobody writes to is renewed that many times less often,
/// and everything that depends on the renewals (followers' election timeouts and leases, the holder's check-quorum)
/// stretches with it. Checked in simulation, where every step also checks one holder per term, committed versions that
/// never change and applied logs that are prefixes of the committed log.
/// </summary>
public class LeaseIdleLeaseTests
{
    private static readonly LeaseConfig Config = LeaseConfig.Default;
    private static readonly long IdleHeartbeatMs = LeaseSim.IdleHeartbeatMs;

    private static LeaseSim IdleCluster(int seed, int voters = 3, int learners = 4) => LeaseSim.Idle(SimSeed.Get(seed), voters, learners);

    [Fact]
    public void An_idle_log_is_renewed_idle_factor_times_less_often_and_keeps_its_holder()
    {
        var sim = IdleCluster(31);
        var holder = Assert.Single(sim.Holders);
        var term = holder.Machine.Term;
        Assert.True(holder.Machine.IdleLease, $"the holder did not idle; {sim.Replay}");
        Assert.All(sim.Nodes.Where(n => n != holder), n => Assert.True(n.Machine.IdleLease, $"{n} was not told the log is idle; {sim.Replay}"));

        sim.AppendsSent.Clear();
        sim.Run(30_000);

        Assert.Same(holder, Assert.Single(sim.Holders));
        Assert.Equal(term, holder.Machine.Term);
        var toVoter = sim.Nodes.Where(n => n != holder && holder.Machine.Voters.Contains(n.Id)).Min(n => sim.AppendsSent.GetValueOrDefault((holder.Id, n.Id)));
        var expected = 30_000 / IdleHeartbeatMs;
        Assert.InRange(toVoter, expected * 9 / 10, expected * 11 / 10);
        Assert.All(sim.Nodes, n => Assert.False(n.Machine.HolderLost, $"{n} reports its holder lost; {sim.Replay}"));
    }

    [Fact]
    public void A_proposal_on_an_idle_log_commits_at_once_and_ends_the_idle_everywhere()
    {
        var sim = IdleCluster(32);
        var holder = Assert.Single(sim.Holders);

        var version = sim.ProposeAnywhere();
        Assert.True(version > 0, sim.Replay);
        Assert.False(holder.Machine.IdleLease, "the holder stays idle after a proposal");
        // Far less than an idle heartbeat interval: the append goes out with the proposal, not with the next renewal.
        sim.Run(3 * LeaseSim.TickMs);

        Assert.True(holder.Machine.Commit >= version, $"version {version} not committed within {3 * LeaseSim.TickMs} ms; {sim.Replay}");
        var voters = sim.Nodes.Where(n => n != holder && holder.Machine.Voters.Contains(n.Id)).ToList();
        Assert.All(voters, n => Assert.False(n.Machine.IdleLease, $"{n} still counts on an idle holder; {sim.Replay}"));
        // And once quiet again, it idles again.
        sim.Run(Config.IdleAfterRounds * Config.HeartbeatTicks * LeaseSim.TickMs + 2 * IdleHeartbeatMs);
        Assert.True(holder.Machine.IdleLease, sim.Replay);
    }

    /// <summary>
    /// A voter that dies for good is kept among three voters (dropping it would not let the two live ones survive more
    /// failures: <see cref="VoterPolicy"/>), so it must not keep the log awake: after a check-quorum window or two of
    /// silence it no longer counts for the quiet rounds and the lease idles. Back, it lags: the lease wakes, brings it
    /// up to date, and idles again.
    /// </summary>
    [Fact]
    public void A_dead_voter_kept_among_three_does_not_keep_the_log_awake()
    {
        var sim = IdleCluster(35, voters: 3, learners: 0);
        var holder = Assert.Single(sim.Holders);
        sim.ProposeAnywhere();
        sim.Run(500);
        var dead = sim.Nodes.First(n => n != holder);
        sim.Crash(dead, machineGone: true);
        for (var i = 0; i < 10; i++) sim.Run(50, proposalsPerTick: 1);
        Assert.False(holder.Machine.IdleLease, sim.Replay);
        var quiet = Config.IdleAfterRounds * Config.HeartbeatTicks * LeaseSim.TickMs + 2 * Config.ElectionTicks * LeaseSim.TickMs + 2 * IdleHeartbeatMs;
        sim.Run(quiet);
        Assert.Same(holder, Assert.Single(sim.Holders));
        Assert.True(holder.Machine.IdleLease, $"the holder does not idle with {dead} dead [{sim.Describe()}]; {sim.Replay}");

        sim.Restart(dead);
        sim.Run(quiet);
        Assert.Same(holder, Assert.Single(sim.Holders));
        Assert.Equal(holder.Machine.LastVersion, dead.Machine.LastVersion);
        Assert.True(holder.Machine.IdleLease, $"the holder does not idle again once {dead} is back [{sim.Describe()}]; {sim.Replay}");
    }

    [Fact]
    public void A_holder_whose_machine_dies_while_the_log_is_idle_is_replaced_after_the_stretched_timeout_not_before()
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(33_000, 30);
        foreach (var seed in seeds)
        {
            var sim = IdleCluster(seed, voters: 3 + seed % 3, learners: seed % 4);
            var holder = Assert.Single(sim.Holders);
            // The machine goes (a kernel panic, a pulled cable): nothing answers the voters' probes, so nothing tells them the holder is gone.
            sim.Crash(holder, machineGone: true);
            var crashedAt = sim.NowMs;
            while (!sim.Holders.Any() && sim.NowMs - crashedAt < 20_000) sim.Run(LeaseSim.TickMs);
            var took = sim.NowMs - crashedAt;
            Assert.True(sim.Holders.Any(), $"no new holder 20 s after the idle holder died; {sim.Replay}");
            // Voters heard the last renewal at most one idle interval before the crash, and wait IdleFactor election
            // timeouts (randomized in [1, 2) of one) after it.
            var shortest = Config.IdleFactor * Config.ElectionTicks * LeaseSim.TickMs - IdleHeartbeatMs;
            var longest = 2 * Config.IdleFactor * Config.ElectionTicks * LeaseSim.TickMs + 2_000;
            Assert.True(took >= shortest, $"a new holder after {took} ms: the voters did not wait out the stretched lease ({shortest} ms); {sim.Replay}");
            Assert.True(took <= longest, $"a new holder only after {took} ms (bound {longest}); {sim.Replay}");
            Assert.Equal(0, sim.ProbesRefused);
            Assert.True(sim.ProposeAnywhere() > 0, sim.Replay);
            sim.HealAndCheckConverged();
        }
    }

    [Fact]
    public void An_idle_holder_cut_off_from_every_voter_steps_down_and_the_majority_elects_another()
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(34_000, 20);
        foreach (var seed in seeds)
        {
            var sim = IdleCluster(seed, voters: 3 + seed % 3, learners: 2);
            var holder = Assert.Single(sim.Holders);
            sim.Partition([.. sim.Nodes.Select(n => n == holder ? 1 : 0)]);
            // Check-quorum in the stretched window: at most two of them.
            sim.Run(2 * Config.IdleFactor * Config.ElectionTicks * LeaseSim.TickMs + 1_000);
            Assert.False(holder.Machine.IsHolder, $"the idle holder kept the lease alone for {sim.NowMs} ms; {sim.Replay}");
            Assert.True(sim.Holders.Count() == 1, $"holders: {sim.Holders.Count()} [{sim.Describe()}]; {sim.Replay}");
            var other = sim.Holders.Single();
            Assert.True(other.Machine.Term > holder.Machine.Term || other != holder, sim.Replay);
            Assert.True(sim.ProposeAnywhere() > 0, sim.Replay);
            sim.HealAndCheckConverged();
        }
    }

    /// <summary>
    /// Fault schedules that alternate idle stretches (long enough for the lease to idle) with bursts of proposals,
    /// with loss, duplication, delay, partitions, crashes and stalls; every invariant at every step, converged at the end.
    /// </summary>
    [Fact]
    public void Schedules_with_idle_stretches_keep_every_invariant_and_converge()
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(35_000, 120);
        var idled = 0;
        foreach (var seed in seeds)
        {
            var random = new Random(seed);
            var sim = new LeaseSim(seed, voters: 3 + seed % 3, learners: seed % 4, new LeaseFaults
            {
                Loss = random.NextDouble() * 0.1,
                Duplicate = random.NextDouble() * 0.05,
                MaxDelayMs = 1 + random.Next(40),
            });
            for (var step = 0; step < 12; step++)
            {
                var idle = random.Next(2) == 0;
                sim.Run(idle ? 3_000 + random.Next(6_000) : 1_000 + random.Next(2_000), proposalsPerTick: idle ? 0 : 0.7);
                if (sim.Holders.Any(h => h.Machine.IdleLease)) idled++;
                sim.AcknowledgeCommitted();
                switch (random.Next(10))
                {
                    case 0: sim.RandomPartition(); break;
                    case 1 or 2: sim.Heal(); break;
                    case 3: sim.Crash(sim.Nodes[random.Next(sim.Nodes.Count)]); break;
                    case 4: sim.Restart(sim.Nodes[random.Next(sim.Nodes.Count)]); break;
                    case 5: sim.Stall(sim.Nodes[random.Next(sim.Nodes.Count)], 1 + random.Next(60)); break;
                    case 6 when sim.Holders.FirstOrDefault() is { } h: sim.Crash(h); break;
                }
            }
            sim.HealAndCheckConverged();
        }
        // The schedules must reach idle leases often, or they prove nothing about them.
        Assert.True(idled >= seeds.Count() * 2, $"an idle holder at only {idled} steps");
    }
}
