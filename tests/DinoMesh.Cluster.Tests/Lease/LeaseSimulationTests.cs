using DinoMesh.Cluster.Lease;
using DinoMesh.Cluster.Tests.Membership;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The lease protocol over thousands of seeded fault schedules. Every step checks: at most one holder per term; a
/// committed version never changes; every applied log is a prefix of the committed log. After healing: every node
/// holds the same state hash, and no acknowledged entry is missing. A failure names its seed (DINOMESH_SIM_SEED=n).
/// </summary>
public class LeaseSimulationTests
{
    [Fact]
    public void Three_voters_elect_one_holder_commit_and_converge()
    {
        var sim = new LeaseSim(SimSeed.Get(1), voters: 3, learners: 0, new LeaseFaults());
        sim.Run(3_000);
        Assert.Single(sim.Holders);
        for (var i = 0; i < 50; i++) sim.Run(50, proposalsPerTick: 1);
        // One proposal per tick leaves the followers' notices owed with no append to carry them: the deadline sends them.
        Assert.True(sim.NoticeDeadlinesSent > 0, sim.Replay);
        // And the voter the majority did not need got its entries at the deferral deadline (LeaseLog.QuorumFirst.cs).
        Assert.True(sim.DeferredDeadlinesSent > 0, sim.Replay);
        sim.HealAndCheckConverged();
        Assert.True(sim.Acknowledged.Count >= 40, $"only {sim.Acknowledged.Count} acknowledged; {sim.Replay}");
    }

    [Fact]
    public void A_single_voter_commits_alone()
    {
        var sim = new LeaseSim(SimSeed.Get(2), voters: 1, learners: 2, new LeaseFaults());
        sim.Run(2_000);
        for (var i = 0; i < 20; i++) sim.Run(50, proposalsPerTick: 1);
        sim.HealAndCheckConverged();
        Assert.True(sim.Acknowledged.Count >= 15, sim.Replay);
    }

    // Regression (found on real nodes): a learner promoted by a voter change kept acting as a learner and never
    // campaigned, so losing the original voters left the cluster without a holder.
    [Fact]
    public void Learners_promoted_to_voters_take_over_when_the_original_voters_are_gone()
    {
        var sim = new LeaseSim(SimSeed.Get(7), voters: 1, learners: 2, new LeaseFaults());
        sim.Run(2_000);
        for (var i = 0; i < 40 && sim.Holders.Single().Machine.Voters.Voters.Count < 3; i++)
        {
            sim.ChangeVoters();
            sim.Run(500, proposalsPerTick: 0.5);
        }
        var founder = sim.Holders.Single();
        Assert.Equal(3, founder.Machine.Voters.Voters.Count);
        sim.Run(1_000);
        sim.Crash(founder);
        sim.Run(5_000);
        var holder = Assert.Single(sim.Holders);
        Assert.NotEqual(founder.Id, holder.Id);
        Assert.True(sim.ProposeAnywhere() > 0, sim.Replay);
        sim.HealAndCheckConverged();
    }

    /// <summary>
    /// An idle holder renews its lease with every voter each (idle) heartbeat but sends a learner that holds the whole log an
    /// empty heartbeat only every <see cref="LeaseConfig.LearnerHeartbeatIntervals"/> — yet a learner that lost appends
    /// and commit pushes still catches up, with no new proposal to carry the repair.
    /// </summary>
    [Fact]
    public void An_idle_holder_heartbeats_learners_rarely_and_a_learner_still_catches_up_after_loss()
    {
        var sim = new LeaseSim(SimSeed.Get(11), voters: 5, learners: 10, new LeaseFaults());
        sim.Run(3_000);
        for (var i = 0; i < 20; i++) sim.Run(50, proposalsPerTick: 1);
        sim.Run(1_000);
        var holder = Assert.Single(sim.Holders);
        sim.AppendsSent.Clear();
        sim.Run(10_000);
        Assert.Same(holder, Assert.Single(sim.Holders));
        var voters = sim.Nodes.Where(n => n != holder && holder.Machine.Voters.Contains(n.Id)).ToList();
        var learners = sim.Nodes.Where(n => !holder.Machine.Voters.Contains(n.Id)).ToList();
        var toVoter = voters.Min(n => sim.AppendsSent.GetValueOrDefault((holder.Id, n.Id)));
        var toLearner = learners.Max(n => sim.AppendsSent.GetValueOrDefault((holder.Id, n.Id)));
        // 10 s of an idle log at one heartbeat per 600 ms (150 ms times the idle factor): about 16 to each voter, one or two
        // to each learner.
        var heartbeats = 10_000 / (LeaseConfig.Default.HeartbeatTicks * LeaseConfig.Default.IdleFactor * LeaseSim.TickMs);
        Assert.True(toVoter >= heartbeats * 9 / 10, $"{toVoter} appends to a voter in 10 s, expected about {heartbeats}; {sim.Replay}");
        Assert.True(toLearner * 5 <= toVoter, $"{toLearner} appends to a learner against {toVoter} to a voter; {sim.Replay}");
        Assert.True(learners.All(n => !n.Machine.HolderLost), $"a learner reports its holder lost; {sim.Replay}");

        sim.Faults = new LeaseFaults { Loss = 0.3 };
        for (var i = 0; i < 60; i++) sim.Run(50, proposalsPerTick: 1);
        sim.Faults = new LeaseFaults();
        // No proposal from here on: only resends and heartbeats can bring the learners the entries and commits they lost.
        sim.Run(4_000);
        var commit = Assert.Single(sim.Holders).Machine.Commit;
        Assert.All(sim.Nodes, n => Assert.True(n.Applied == commit, $"{n} applied {n.Applied} of {commit}; {sim.Replay}"));
    }

    /// <summary>
    /// Seeds that once failed, kept as regressions: 3 (a lost snapshot request left a follower waiting for ever), 846
    /// and 491 (lost appends counted as in flight for ever while heartbeats kept the follower "active"), 481, 1112 (a
    /// voter that had not yet received its own promotion refused to vote, and no holder could be elected).
    /// </summary>
    [Theory]
    [InlineData(3)]
    [InlineData(846)]
    [InlineData(491)]
    [InlineData(481)]
    [InlineData(1112)]
    public void Seeds_that_once_failed_keep_every_invariant_and_converge(int seed) =>
        RunSchedule(seed, voters: 3 + seed % 3, learners: seed % 4, seconds: 20);

    /// <summary>
    /// Seeds whose schedules bring a follower a snapshot at a version its log already holds in that term, with entries
    /// after it that it acknowledged (a copy late on the way, a log that reached the version while the pieces came).
    /// With the machine's checks of the log at a piece and at the install removed, the forward check here fails them;
    /// with those removed too and the driver's rule before 2026-12-06 (drop what follows the applied version), the check
    /// that no install drops an acknowledged entry does. Found by a soak of 10,000 random schedules with the checks removed.
    /// </summary>
    [Theory]
    [InlineData(1687)]
    [InlineData(2270)]
    [InlineData(5534)]
    public void Seeds_where_a_snapshot_reaches_a_follower_whose_log_holds_its_version_install_nothing_over_it(int seed) =>
        RunSchedule(seed, voters: 3 + seed % 3, learners: seed % 4, seconds: 20);

    public static TheoryData<int> Batches => [.. Enumerable.Range(0, 10)];

    /// <summary>Random schedules: 3–5 voters and a few learners under every fault at once. 10 batches of seeds.</summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void Random_fault_schedules_keep_every_invariant_and_converge(int batch)
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(batch * SchedulesPerBatch, SchedulesPerBatch);
        foreach (var seed in seeds) RunSchedule(seed, voters: 3 + seed % 3, learners: seed % 4, seconds: 20);
    }

    private static int SchedulesPerBatch => SimSeed.Schedules(120);

    // A soak (DINOMESH_SIM_SCHEDULES) lengthens the power-loss schedules too; by default they are CI's 100 and 150.
    private static int PowerLossSchedules => SimSeed.Schedules(100);

    private static int MajorityLossSchedules => SimSeed.Schedules(150);

    [Fact]
    public void Five_voters_and_twenty_learners_survive_faults_and_converge()
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(50_000, SimSeed.Schedules(60));
        foreach (var seed in seeds) RunSchedule(seed, voters: 5, learners: 20, seconds: 20);
    }

    /// <summary>
    /// One machine loses power (the unsynced end of its log is gone; followers answer appends before they fsync) while
    /// the others run on, with clock jumps on any node. The holder must notice the restart, forget what the machine
    /// acknowledged before, and bring it back: every node converges and no acknowledged entry is lost (a majority still
    /// holds each). Before the fix the holder kept the old match and the machine never caught up.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void A_machine_that_loses_power_catches_up_and_clock_jumps_change_nothing(int batch)
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(200_000 + batch * PowerLossSchedules, PowerLossSchedules);
        var cut = 0;
        foreach (var seed in seeds)
        {
            var random = new Random(seed);
            var sim = new LeaseSim(seed, voters: 3 + seed % 3, learners: seed % 4, new LeaseFaults
            {
                Loss = random.NextDouble() * 0.1,
                Duplicate = random.NextDouble() * 0.1,
                MaxDelayMs = 1 + random.Next(30),
            });
            for (var round = 0; round < 3; round++)
            {
                for (var step = 0; step < 12; step++)
                {
                    sim.Run(250, proposalsPerTick: 0.7);
                    sim.AcknowledgeCommitted();
                    if (random.Next(4) == 0) sim.JumpClock(sim.Nodes[random.Next(sim.Nodes.Count)], 1 + random.Next(40));
                    if (step == 4 && sim.Nodes.Where(n => n.Up && !n.Machine.IsHolder).ToList() is { Count: > 0 } followers)
                    {
                        var victim = followers[random.Next(followers.Count)];
                        var before = victim.Log.LastVersion;
                        sim.Crash(victim, powerLoss: true);
                        if (victim.Log.LastVersion < before) cut++;
                    }
                    if (step == 8) foreach (var node in sim.Nodes.Where(n => !n.Up).ToList()) sim.Restart(node);
                }
                sim.HealAndCheckConverged();
            }
        }
        // The schedules must really take entries back, or they prove nothing about catching up.
        Assert.True(cut >= seeds.Count(), $"only {cut} power cuts lost a log tail");
    }

    /// <summary>
    /// A majority of voters loses power at once (the holder among them or not) while the others and the learners run
    /// on. Entries committed since the last fsync may be lost (the durability tiers allow it), but never one that an
    /// fsync covered; a survivor that had applied lost entries finds the new holder's log contradicting them, says so,
    /// and the holder's snapshot replaces its state; after healing every node has the same state. Before, such a
    /// survivor skipped the holder's entries as "already committed" and kept a different tree for good.
    /// </summary>
    /// <remarks>Batch 2 sends snapshots in pieces of 8 bytes, so every replacement is assembled from many pieces.</remarks>
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(2, 8)]
    public void A_majority_that_loses_power_together_loses_nothing_fsynced_and_every_node_converges(int batch, int pieceBytes)
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(400_000 + batch * MajorityLossSchedules, MajorityLossSchedules);
        var replaced = 0;
        foreach (var seed in seeds)
        {
            var random = new Random(seed);
            var sim = new LeaseSim(seed, voters: 3 + seed % 3, learners: seed % 3, new LeaseFaults
            {
                Loss = random.NextDouble() * 0.05,
                Duplicate = random.NextDouble() * 0.05,
                MaxDelayMs = 1 + random.Next(20),
            }, pieceBytes > 0 ? LeaseConfig.Default with { SnapshotPieceBytes = pieceBytes } : null);
            sim.Run(2_000, proposalsPerTick: 0.7);
            sim.AcknowledgeCommitted();
            // An fsync: everything committed so far must survive the power cut to come.
            long fsynced = 0;
            if (sim.Holders.OrderByDescending(h => h.Machine.Term).FirstOrDefault() is { } syncer)
            {
                var asked = syncer.Machine.Commit;
                syncer.Machine.RequestSync(asked);
                sim.Process(syncer);
                sim.Run(1_000, proposalsPerTick: 0.7);
                if (syncer.Up && syncer.Machine.IsHolder && syncer.Machine.SyncedCommit >= asked) fsynced = asked;
            }
            sim.Run(1_000 + random.Next(1_000), proposalsPerTick: 0.9);
            sim.AcknowledgeCommitted();
            var holder = sim.Holders.OrderByDescending(h => h.Machine.Term).FirstOrDefault();
            var voters = holder?.Machine.Voters ?? sim.InitialVoters;
            var victims = voters.Voters.OrderBy(_ => random.Next()).Take(voters.Quorum).Select(v => sim.Nodes.First(n => n.Id == v)).ToList();
            foreach (var victim in victims) sim.Crash(victim, powerLoss: true);
            var kept = sim.ForgetCommitsLostToPowerLoss(voters);
            Assert.True(kept >= fsynced, $"the power cut took back version {kept + 1}, which an fsync up to {fsynced} covered; {sim.Replay}");
            sim.Run(random.Next(1_000));
            foreach (var victim in victims) sim.Restart(victim);
            if (random.Next(3) > 0)
            {
                // The machines that lost power come back before the survivors' links do (a switch that rebooted
                // with them): they elect among themselves and commit over the lost entries.
                sim.Partition([.. sim.Nodes.Select(n => victims.Contains(n) ? 1 : 0)]);
                sim.Run(2_000 + random.Next(2_000), proposalsPerTick: 0.7);
                sim.Heal();
            }
            sim.Run(3_000, proposalsPerTick: 0.7);
            sim.HealAndCheckConverged();
            replaced += sim.Replaced;
        }
        // The schedules must make survivors diverge, or they prove nothing about bringing them back.
        Assert.True(replaced >= seeds.Count() / 10, $"only {replaced} diverged nodes had their state replaced");
    }

    /// <summary>
    /// A member whose link to the holder is cut, while it still reaches the other members, keeps up by pulling
    /// committed entries from them (gossip): its applied version follows the commit version while the cut lasts.
    /// Before gossip it stood still until the link came back. With random loss, duplication and delay; 100 seeds and
    /// the ones that once failed.
    /// </summary>
    [Fact]
    public void A_member_cut_off_from_the_holder_alone_keeps_up_by_pulling_from_the_others()
    {
        // 300154: both of the member's pulls were lost, and each silenced it for a second of an idle cluster's rare digests.
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(300_000, SimSeed.Schedules(100)).Append(300_154).Distinct();
        foreach (var seed in seeds)
        {
            var random = new Random(seed);
            var sim = new LeaseSim(seed, voters: 3, learners: 1 + seed % 3, new LeaseFaults
            {
                Loss = random.NextDouble() * 0.05,
                Duplicate = random.NextDouble() * 0.05,
                MaxDelayMs = 1 + random.Next(20),
            });
            sim.Run(3_000);
            var holder = Assert.Single(sim.Holders);
            var isolated = sim.Nodes.Where(n => n != holder).ElementAt(random.Next(sim.Nodes.Count - 1));
            sim.CutLink(holder, isolated);
            var before = isolated.Applied;
            sim.Run(4_000, proposalsPerTick: 0.8);
            var committed = holder.Machine.Commit;
            sim.Run(3_000);
            Assert.True(committed > before + 10, $"too few commits in the cut to show anything ({before} -> {committed}); {sim.Replay}");
            Assert.True(isolated.Applied >= committed,
                $"{isolated} (cut off from holder {holder}) applied {isolated.Applied} of {committed} committed [{sim.Describe()}]; {sim.Replay}");
            sim.HealAndCheckConverged();
        }
    }

    internal static LeaseSim RunSchedule(int seed, int voters, int learners, int seconds)
    {
        var random = new Random(seed);
        var sim = new LeaseSim(seed, voters, learners, new LeaseFaults
        {
            Loss = random.NextDouble() * 0.2,
            Duplicate = random.NextDouble() * 0.1,
            MaxDelayMs = 1 + random.Next(60),
        });
        for (var step = 0; step < seconds * 4; step++)
        {
            sim.Run(250, proposalsPerTick: 0.7);
            sim.AcknowledgeCommitted();
            switch (random.Next(24))
            {
                case 0: sim.RandomPartition(); break;
                case 1 or 2: sim.Heal(); break;
                case 3: sim.Crash(sim.Nodes[random.Next(sim.Nodes.Count)]); break;
                case 4 or 5: sim.Restart(sim.Nodes[random.Next(sim.Nodes.Count)]); break;
                case 6: sim.Stall(sim.Nodes[random.Next(sim.Nodes.Count)], 1 + random.Next(60)); break;
                case 7: sim.Compact(sim.Nodes[random.Next(sim.Nodes.Count)]); break;
                case 8: sim.ChangeVoters(); break;
                case 9 when sim.Holders.FirstOrDefault() is { } h: sim.Crash(h); break;
            }
        }
        sim.HealAndCheckConverged();
        return sim;
    }
}
