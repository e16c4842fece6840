using DinoMesh.Cluster.Lease;
using DinoMesh.Cluster.Tests.Membership;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// Evidence that the holder's process is gone (<see cref="LeaseLog.HolderGone"/>): a voter whose holder's heartbeat is
/// late probes its address, and a refused connect lets it campaign at once instead of waiting out the lease of a
/// process that no longer exists. Checked in simulation, where every step also checks one holder per term, committed
/// versions that never change and applied logs that are prefixes of the committed log; the false evidence a rejecting
/// firewall (or a bug) could give is delivered on purpose.
/// </summary>
public class LeaseHolderGoneTests(ITestOutputHelper output)
{
    private static readonly LeaseConfig Config = LeaseConfig.Default;
    private static readonly long IdleHeartbeatMs = LeaseSim.IdleHeartbeatMs;

    private static IEnumerable<int> Seeds(int from, int count) => SimSeed.Override is { } only ? [only] : Enumerable.Range(from, SimSeed.Schedules(count));

    [Fact]
    public void A_killed_holder_of_an_idle_log_is_found_gone_and_replaced_long_before_its_stretched_lease_ends()
    {
        var took = new List<long>();
        foreach (var seed in Seeds(36_000, 200))
        {
            var sim = LeaseSim.Idle(seed, voters: 3 + seed % 3, learners: seed % 4);
            var holder = Assert.Single(sim.Holders);
            Assert.True(holder.Machine.IdleLease, sim.Replay);
            // Anywhere in the idle heartbeat interval.
            sim.Run(sim.Random.Next((int)IdleHeartbeatMs));
            sim.Crash(holder);
            var crashedAt = sim.NowMs;
            while (!sim.Holders.Any() && sim.NowMs - crashedAt < 20_000) sim.Run(LeaseSim.TickMs);
            Assert.True(sim.Holders.Any(), $"no new holder 20 s after the idle holder was killed; {sim.Replay}");
            Assert.True(sim.HolderGoneActedOn > 0, $"no voter acted on the refused probes ({sim.ProbesRefused} of {sim.ProbesMade}); {sim.Replay}");
            took.Add(sim.NowMs - crashedAt);
            // Last renewal at most one idle interval before the kill, a probe one normal heartbeat after the next one was
            // due, a campaign within HolderGoneCampaignTicks; one split vote adds at most two normal election timeouts.
            var bound = IdleHeartbeatMs + (Config.HeartbeatTicks + Config.HolderGoneCampaignTicks + 4 * Config.ElectionTicks) * LeaseSim.TickMs;
            Assert.True(took[^1] <= bound, $"a new holder only {took[^1]} ms after the kill (bound {bound}); {sim.Replay}");
            Assert.True(sim.ProposeAnywhere() > 0, sim.Replay);
            sim.HealAndCheckConverged();
        }
        took.Sort();
        output.WriteLine($"fail-over after kill -9 of an idle holder, {took.Count} seeds: median {took[took.Count / 2]} ms, p90 {took[took.Count * 9 / 10]} ms, max {took[^1]} ms");
        // Without the evidence no voter may campaign before its stretched lease ends (2.4 s after the last renewal).
        var stretched = Config.IdleFactor * Config.ElectionTicks * LeaseSim.TickMs - IdleHeartbeatMs;
        if (took.Count > 1) Assert.True(took[took.Count / 2] < stretched / 2, $"median fail-over {took[took.Count / 2]} ms; all: {string.Join(",", took)}");
    }

    [Fact]
    public void A_healthy_idle_cluster_probes_nobody_and_keeps_its_holder()
    {
        var sim = LeaseSim.Idle(SimSeed.Get(36_500), voters: 5, learners: 3);
        var holder = Assert.Single(sim.Holders);
        var term = holder.Machine.Term;
        sim.Run(30_000);
        Assert.Same(holder, Assert.Single(sim.Holders));
        Assert.Equal(term, holder.Machine.Term);
        Assert.Equal(0, sim.ProbesMade);
    }

    [Fact]
    public void A_holder_whose_heartbeats_stop_but_whose_process_answers_is_not_reported_gone()
    {
        // A stalled holder (GC pause, SIGSTOP): its kernel still accepts connects, so the probes find it there.
        foreach (var seed in Seeds(36_600, 30))
        {
            var sim = LeaseSim.Idle(seed, voters: 3 + seed % 3, learners: 1);
            var holder = Assert.Single(sim.Holders);
            sim.Stall(holder, 2 * Config.ElectionTicks * Config.IdleFactor);
            sim.Run(2 * Config.ElectionTicks * Config.IdleFactor * LeaseSim.TickMs);
            Assert.True(sim.ProbesMade > 0, $"nobody probed a holder silent for its whole lease; {sim.Replay}");
            Assert.Equal(0, sim.ProbesRefused);
            Assert.Equal(0, sim.HolderGoneActedOn);
            sim.HealAndCheckConverged();
        }
    }

    [Fact]
    public void Learners_and_evidence_about_another_term_or_holder_change_nothing()
    {
        var sim = LeaseSim.Idle(SimSeed.Get(36_700), voters: 3, learners: 2);
        var holder = Assert.Single(sim.Holders);
        var learner = sim.Nodes.First(n => !holder.Machine.Voters.Contains(n.Id));
        var voter = sim.Nodes.First(n => n != holder && holder.Machine.Voters.Contains(n.Id));
        sim.FalseHolderGone(learner);
        Assert.False(learner.Machine.HolderGoneSeen, "a learner acted on holder-gone evidence");
        sim.GivePeerGone(voter, holder.Id, voter.Machine.Term - 1);
        sim.GivePeerGone(voter, learner.Id, voter.Machine.Term);
        Assert.False(voter.Machine.HolderGoneSeen, "a voter acted on evidence about another term or another node");
        Assert.Equal(0, sim.HolderGoneActedOn);
    }

    /// <summary>
    /// A voter with false evidence campaigns, but its pre-vote needs a majority, and every voter that still hears the
    /// holder (the holder too) is inside its lease and ignores it: a minority with bad evidence cannot depose a live holder.
    /// </summary>
    [Fact]
    public void False_evidence_at_a_minority_of_voters_never_deposes_a_live_holder()
    {
        foreach (var seed in Seeds(37_000, 300))
        {
            var random = new Random(seed);
            var voters = 3 + seed % 3;
            var sim = seed % 2 == 0
                ? LeaseSim.Idle(seed, voters, learners: seed % 3, new LeaseFaults { MaxDelayMs = 1 + random.Next(20), Duplicate = random.NextDouble() * 0.05 })
                : new LeaseSim(seed, voters, seed % 3, new LeaseFaults { MaxDelayMs = 1 + random.Next(20) });
            if (seed % 2 != 0) sim.Run(3_000);
            var holder = Assert.Single(sim.Holders);
            var term = holder.Machine.Term;
            var others = sim.Nodes.Where(n => n != holder && holder.Machine.Voters.Contains(n.Id)).OrderBy(_ => random.Next()).ToList();
            var minority = others.Take(holder.Machine.Voters.Quorum - 1).ToList();
            for (var round = 0; round < 20; round++)
            {
                sim.Run(random.Next(1, 800), proposalsPerTick: seed % 2 == 0 ? 0 : 0.5);
                foreach (var node in minority.Where(_ => random.Next(2) == 0)) sim.FalseHolderGone(node);
            }
            sim.Run(3_000);
            Assert.True(sim.HolderGoneActedOn > 0, $"the false evidence was never acted on, so this proves nothing; {sim.Replay}");
            Assert.Same(holder, Assert.Single(sim.Holders));
            Assert.True(term == holder.Machine.Term, $"the holder moved from term {term} to {holder.Machine.Term}; {sim.Replay}");
            Assert.True(sim.ProposeAnywhere() > 0, sim.Replay);
            sim.HealAndCheckConverged();
        }
    }

    /// <summary>
    /// False evidence at every voter while the holder lives: they elect another holder (the evidence says the old one
    /// is gone), and every invariant still holds — the evidence changes timing, never terms, votes or commits.
    /// </summary>
    [Fact]
    public void False_evidence_at_every_voter_keeps_every_invariant_and_converges()
    {
        var replaced = 0;
        foreach (var seed in Seeds(38_000, 300))
        {
            var random = new Random(seed);
            var sim = new LeaseSim(seed, voters: 3 + seed % 3, learners: seed % 3, new LeaseFaults
            {
                Loss = random.NextDouble() * 0.05,
                Duplicate = random.NextDouble() * 0.05,
                MaxDelayMs = 1 + random.Next(30),
            });
            sim.Run(3_000);
            for (var round = 0; round < 10; round++)
            {
                var idle = random.Next(2) == 0;
                sim.Run(idle ? 2_000 + random.Next(3_000) : 200 + random.Next(1_000), proposalsPerTick: idle ? 0 : 0.7);
                sim.AcknowledgeCommitted();
                var before = sim.Holders.Select(h => h.Machine.Term).DefaultIfEmpty(-1).Max();
                foreach (var node in sim.Nodes.Where(n => !n.Machine.IsHolder)) sim.FalseHolderGone(node);
                sim.Run(1_500, proposalsPerTick: idle ? 0 : 0.3);
                if (sim.Holders.Select(h => h.Machine.Term).DefaultIfEmpty(-1).Max() > before) replaced++;
                if (random.Next(6) == 0 && sim.Holders.FirstOrDefault() is { } h) sim.Crash(h, powerLoss: false);
                if (random.Next(6) == 0) sim.Heal();
            }
            sim.HealAndCheckConverged();
        }
        Assert.True(replaced > 300, $"false evidence at every voter replaced the holder only {replaced} times");
    }

    /// <summary>
    /// A firewall that rejects (instead of dropping) cuts an idle holder off from every voter: the voters' probes of the
    /// holder are refused although it lives (false evidence), and the holder's probes of the voters are refused too. The
    /// holder steps down on that evidence, long before its stretched check-quorum would make it, and before the
    /// majority's new holder exists, so it does not go on answering from a lease that the voters no longer honour.
    /// </summary>
    [Fact]
    public void An_idle_holder_cut_off_by_a_rejecting_firewall_steps_down_on_the_evidence_before_another_is_elected()
    {
        var took = new List<long>();
        foreach (var seed in Seeds(36_800, 200))
        {
            var sim = LeaseSim.Idle(seed, voters: 3 + seed % 3, learners: seed % 3, new LeaseFaults { MaxDelayMs = 1 + seed % 10, RejectingCuts = true });
            var holder = Assert.Single(sim.Holders);
            sim.Run(sim.Random.Next((int)IdleHeartbeatMs));
            sim.Partition([.. sim.Nodes.Select(n => n == holder ? 1 : 0)]);
            var cutAt = sim.NowMs;
            while (holder.Machine.IsHolder && sim.NowMs - cutAt < 10_000)
            {
                sim.Run(1);
                Assert.True(!holder.Machine.IsHolder || sim.Holders.Count() == 1,
                    $"a new holder was elected {sim.NowMs - cutAt} ms after the cut while the cut-off one still held the lease [{sim.Describe()}]; {sim.Replay}");
            }
            took.Add(sim.NowMs - cutAt);
            Assert.True(sim.StepDownsOnEvidence > 0, $"the holder did not step down on evidence ({took[^1]} ms); {sim.Replay}");
            // The last answers up to one idle interval before the cut, the first probe one normal heartbeat after the next
            // renewal's answers were due, and the refusal's round trip.
            var bound = IdleHeartbeatMs + (Config.HeartbeatTicks + 1) * LeaseSim.TickMs + 20;
            Assert.True(took[^1] <= bound, $"the cut-off holder stepped down only {took[^1]} ms after the cut (bound {bound}); {sim.Replay}");
            sim.Run(3_000);
            Assert.True(sim.Holders.Count() == 1 && !holder.Machine.IsHolder, $"the majority elected no holder [{sim.Describe()}]; {sim.Replay}");
            Assert.True(sim.ProposeAnywhere() > 0, sim.Replay);
            sim.HealAndCheckConverged();
        }
        took.Sort();
        output.WriteLine($"step-down after a rejecting cut, {took.Count} seeds: median {took[took.Count / 2]} ms, max {took[^1]} ms");
    }

    /// <summary>
    /// False "voter gone" evidence at the holder: about as many voters as it can lose and keep a majority, it keeps the
    /// lease; about one more, it steps down (safe: a new election follows), and every invariant holds either way.
    /// </summary>
    [Fact]
    public void False_voter_gone_evidence_at_the_holder_deposes_it_only_when_no_majority_is_left()
    {
        foreach (var seed in Seeds(36_900, 200))
        {
            var random = new Random(seed);
            var sim = seed % 2 == 0
                ? LeaseSim.Idle(seed, voters: 3 + seed % 3, learners: seed % 3)
                : new LeaseSim(seed, 3 + seed % 3, seed % 3, new LeaseFaults { MaxDelayMs = 1 + random.Next(20) });
            if (seed % 2 != 0) sim.Run(3_000);
            var holder = Assert.Single(sim.Holders);
            var term = holder.Machine.Term;
            var voters = sim.Nodes.Where(n => n != holder && holder.Machine.Voters.Contains(n.Id)).OrderBy(_ => random.Next()).ToList();
            var spare = holder.Machine.Voters.Voters.Count - holder.Machine.Voters.Quorum;
            foreach (var voter in voters.Take(spare)) sim.FalseVoterGone(holder, voter);
            Assert.True(holder.Machine.IsHolder && holder.Machine.Term == term, $"the holder stepped down with a majority left; {sim.Replay}");
            sim.FalseVoterGone(holder, voters[spare]);
            Assert.False(holder.Machine.IsHolder, $"the holder kept the lease with no majority left whose processes are not gone; {sim.Replay}");
            Assert.True(sim.ProposeAnywhere() <= 0 || sim.Holders.All(h => h.Machine.Term > term), sim.Replay);
            // The voters still hear nothing wrong about the old holder: they wait out its lease (stretched when idle).
            sim.Run(2 * Config.IdleFactor * Config.ElectionTicks * LeaseSim.TickMs + 1_000, proposalsPerTick: 0.3);
            Assert.True(sim.Holders.Count() == 1, $"no holder after the false evidence [{sim.Describe()}]; {sim.Replay}");
            sim.HealAndCheckConverged();
        }
    }

    /// <summary>
    /// Fault schedules where cuts reject (so probes across them are refused while the holder lives: false evidence from
    /// the network itself), with kill -9 (true evidence), machines that vanish (no evidence), stalls, loss, duplication and delay,
    /// idle stretches and bursts; every invariant at every step, converged at the end.
    /// </summary>
    [Fact]
    public void Schedules_with_rejecting_cuts_kills_and_vanished_machines_keep_every_invariant_and_converge()
    {
        var seeds = Seeds(39_000, 1_000).ToList();
        var refused = 0;
        foreach (var seed in seeds)
        {
            var random = new Random(seed);
            var sim = new LeaseSim(seed, voters: 3 + seed % 3, learners: seed % 4, new LeaseFaults
            {
                Loss = random.NextDouble() * 0.1,
                Duplicate = random.NextDouble() * 0.05,
                MaxDelayMs = 1 + random.Next(40),
                RejectingCuts = seed % 2 == 0,
            });
            for (var step = 0; step < 10; step++)
            {
                var idle = random.Next(2) == 0;
                sim.Run(idle ? 2_000 + random.Next(4_000) : 500 + random.Next(1_500), proposalsPerTick: idle ? 0 : 0.7);
                sim.AcknowledgeCommitted();
                switch (random.Next(12))
                {
                    case 0: sim.RandomPartition(); break;
                    case 1 when sim.Nodes.Count > 1: sim.CutLink(sim.Nodes[0], sim.Nodes[1]); break;
                    case 2 or 3: sim.Heal(); break;
                    case 4: sim.Crash(sim.Nodes[random.Next(sim.Nodes.Count)]); break;
                    case 5: sim.Restart(sim.Nodes[random.Next(sim.Nodes.Count)]); break;
                    case 6: sim.Stall(sim.Nodes[random.Next(sim.Nodes.Count)], 1 + random.Next(60)); break;
                    case 7 or 8 when sim.Holders.FirstOrDefault() is { } h: sim.Crash(h); break;
                    case 9 when sim.Holders.FirstOrDefault() is { } h: sim.Crash(h, machineGone: true); break;
                    case 10 when sim.Holders.FirstOrDefault() is { } h:
                        // Killed and started again with the same identity: a probe may find the new process (no
                        // evidence) or none yet (evidence: the old process, the one with the lease, is gone).
                        sim.Crash(h);
                        sim.Run(random.Next(1_000));
                        sim.Restart(h);
                        break;
                }
                foreach (var node in sim.Nodes.Where(n => n.Up && random.Next(8) == 0))
                {
                    if (node.Machine.IsHolder) sim.FalseVoterGone(node, sim.Nodes[random.Next(sim.Nodes.Count)]);
                    else sim.FalseHolderGone(node);
                }
            }
            refused += sim.ProbesRefused;
            sim.HealAndCheckConverged();
        }
        Assert.True(refused >= seeds.Count, $"only {refused} refused probes in {seeds.Count} schedules: they prove little about the evidence");
    }
}
