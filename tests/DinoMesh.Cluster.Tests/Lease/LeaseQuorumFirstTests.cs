using DinoMesh.Cluster.Lease;
using DinoMesh.Cluster.Tests.Membership;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// Quorum first (LeaseLog.QuorumFirst.cs), message by message on three voters: a new entry goes at once to one voter
/// (with the holder, a majority) and the other's appends gather until a count or the driver's deadline; whoever waits
/// is never deferred; a quick voter that fails is replaced. Then on the simulated network: a commit whose quick voter
/// is gone comes within the deadline and a round trip.
/// </summary>
public class LeaseQuorumFirstTests
{
    private static readonly PeerId H = ThreeVoters.H;

    private static (PeerId Quick, PeerId Deferred) Roles(ThreeVoters c)
    {
        var quick = Assert.Single(c.Holder.QuickVoters);
        return (quick, quick == ThreeVoters.F1 ? ThreeVoters.F2 : ThreeVoters.F1);
    }

    [Fact]
    public void New_entries_go_at_once_only_to_the_quick_voter_and_the_other_gets_them_in_one_append_at_the_deadline()
    {
        var c = new ThreeVoters();
        var (quick, deferred) = Roles(c);
        var merged = c.Holder.DeferralsMerged;
        var first = c.Holder.Propose([[1]]);
        for (var i = 2; i <= 3; i++)
        {
            c.DeliverQueued(H, quick);
            c.DeliverQueued(quick, H);
            c.Holder.Propose([[(byte)i]]);
        }
        c.DeliverQueued(H, quick);
        c.DeliverQueued(quick, H);
        // Committed by the holder and the quick voter alone; the other has been sent nothing yet.
        Assert.Equal(first + 2, c.Holder.Commit);
        Assert.Empty(c.Queued(H, deferred));
        Assert.True(c.Holder.AppendsDeferred);
        Assert.Equal(first, c.Holder.DeferredFrom);

        c.Holder.SendDeferredAppends();

        var append = Assert.IsType<Append>(Assert.Single(c.Queued(H, deferred)));
        Assert.Equal([first, first + 1, first + 2], append.Entries.Select(e => e.Version));
        Assert.Equal(first + 2, append.Commit);
        Assert.Equal(merged + 1, c.Holder.DeferralsMerged);
        c.DeliverQueued(H, deferred);
        Assert.Equal(first + 2, c.Node(deferred).Commit);
        c.DeliverQueued(deferred, H);
        Assert.False(c.Holder.AppendsDeferred);
        // The quick voter stays quick: it made every majority.
        Assert.Equal(quick, Assert.Single(c.Holder.QuickVoters));
    }

    [Fact]
    public void Deferred_entries_go_without_waiting_for_the_deadline_once_enough_of_them_wait()
    {
        var c = new ThreeVoters(LeaseConfig.Default with { DeferredAppendEntries = 3 });
        var (_, deferred) = Roles(c);
        c.Holder.Propose([[1]]);
        c.Holder.Propose([[2]]);
        Assert.Empty(c.Queued(H, deferred));
        c.Holder.Propose([[3]]);
        Assert.Equal(3, Assert.IsType<Append>(Assert.Single(c.Queued(H, deferred))).Entries.Length);
        Assert.False(c.Holder.AppendsDeferred);
    }

    [Fact]
    public void When_the_quick_voter_does_not_answer_the_deadline_lets_the_other_make_the_majority_and_take_its_place()
    {
        var c = new ThreeVoters();
        var (quick, deferred) = Roles(c);
        // A long spell in which the quick voter made every majority: its share is far ahead.
        for (var i = 0; i < 30; i++)
        {
            c.Holder.Propose([[(byte)i]]);
            c.DeliverQueued(H, quick);
            c.DeliverQueued(quick, H);
        }
        c.Holder.SendDeferredAppends();
        c.DeliverAppendsAndAnswers();
        Assert.Equal(quick, Assert.Single(c.Holder.QuickVoters));
        var v = c.Holder.Propose([[5]]);
        // The quick voter's answer does not come (stalled, or gone): nothing commits before the deadline.
        c.DeliverQueued(H, quick);
        c.Queued(quick, H).Clear();
        Assert.True(c.Holder.Commit < v);

        c.Holder.SendDeferredAppends(overdue: v);
        c.DeliverQueued(H, deferred);
        c.DeliverQueued(deferred, H);
        Assert.Equal(v, c.Holder.Commit);

        // The voter that made the majority is quick now; the one that let the entry wait is deferred.
        Assert.Equal(deferred, Assert.Single(c.Holder.QuickVoters));
        var v2 = c.Holder.Propose([[6]]);
        Assert.Equal(v2, Assert.Single(Assert.IsType<Append>(Assert.Single(c.Queued(H, deferred))).Entries).Version);
    }

    [Fact]
    public void A_quick_voter_whose_process_is_gone_is_replaced_at_once()
    {
        var c = new ThreeVoters();
        var (quick, deferred) = Roles(c);
        c.Holder.PeerGone(quick, c.Holder.Term);
        Assert.True(c.Holder.IsHolder);
        Assert.Equal(deferred, Assert.Single(c.Holder.QuickVoters));
        var v = c.Holder.Propose([[7]]);
        Assert.Equal(v, Assert.Single(Assert.IsType<Append>(Assert.Single(c.Queued(H, deferred))).Entries).Version);
        Assert.Empty(c.Queued(H, quick));
    }

    [Fact]
    public void A_follower_that_proposed_the_entry_or_asks_for_a_read_index_is_never_kept_waiting()
    {
        var c = new ThreeVoters();
        var (quick, deferred) = Roles(c);
        // Its own proposal: the entry goes to it at once.
        var v1 = c.Holder.Propose([[8]], proposer: deferred);
        Assert.Equal(v1, Assert.Single(Assert.IsType<Append>(Assert.Single(c.Queued(H, deferred))).Entries).Version);
        c.DeliverAppendsAndAnswers();
        c.DeliverAppendsAndAnswers();
        Assert.Equal(v1, c.Node(deferred).Commit);

        // Someone else's change, deferred; then an open there asks for the read index: the entry goes now, with the commit.
        var v2 = c.Holder.Propose([[9]]);
        c.DeliverQueued(H, quick);
        c.DeliverQueued(quick, H);
        Assert.Equal(v2, c.Holder.Commit);
        Assert.Empty(c.Queued(H, deferred));
        c.Holder.CommitAwaited(deferred, c.Holder.Commit);
        var append = Assert.IsType<Append>(Assert.Single(c.Queued(H, deferred)));
        Assert.Equal(v2, Assert.Single(append.Entries).Version);
        Assert.Equal(v2, append.Commit);
        c.DeliverQueued(H, deferred);
        Assert.Equal(v2, c.Node(deferred).Commit);
    }

    [Fact]
    public void While_an_fsync_waits_every_append_goes_to_every_voter_at_once()
    {
        var c = new ThreeVoters();
        var (_, deferred) = Roles(c);
        var v1 = c.Holder.Propose([[10]]);
        c.Holder.RequestSync(v1);
        var v2 = c.Holder.Propose([[11]]);
        var versions = c.Queued(H, deferred).Cast<Append>().SelectMany(a => a.Entries).Select(e => e.Version).ToList();
        Assert.Contains(v1, versions);
        Assert.Contains(v2, versions);
    }

    [Fact]
    public void Deferrals_that_keep_going_alone_stop_the_deferring()
    {
        // A node that waits to see each change elsewhere before it makes the next: every deferred append carries one
        // change, at the deadline. Judged as the driver does after each round.
        var c = new ThreeVoters();
        var (_, deferred) = Roles(c);
        var policy = new CommitNoticePolicy(probeIntervalTicks: 1_000_000);
        long now = 0;
        for (var i = 0; i < 20 && c.Holder.DeferAppends; i++)
        {
            c.Holder.Propose([[(byte)(40 + i)]]);
            c.DeliverAppendsAndAnswers();
            c.Holder.SendDeferredAppends();
            c.DeliverAppendsAndAnswers();
            c.Holder.DeferAppends = policy.Judge(c.Holder.DeferralsMerged, c.Holder.DeferralsAlone, ++now);
        }
        Assert.False(c.Holder.DeferAppends, $"still deferring at a miss rate of {policy.MissRate:F2}");
        Assert.Equal(2, c.Holder.QuickVoters.Count);
        var v = c.Holder.Propose([[99]]);
        Assert.Equal(v, Assert.Single(Assert.IsType<Append>(Assert.Single(c.Queued(H, deferred))).Entries).Version);
    }

    /// <summary>
    /// The quick voter is killed under a steady writer: each later commit, which only the deferred voter can now make,
    /// comes at most the deferral deadline plus a round trip after its proposal (every message takes 1 ms here), and
    /// once the deferred voter has taken the quick one's place, a round trip. 50 seeds.
    /// </summary>
    [Fact]
    public void A_commit_only_the_deferred_voter_can_make_waits_no_longer_than_the_deadline_and_a_round_trip()
    {
        var seeds = SimSeed.Override is { } only ? [only] : Enumerable.Range(600_000, SimSeed.Schedules(50));
        foreach (var seed in seeds)
        {
            var sim = new LeaseSim(seed, voters: 3, learners: 0, new LeaseFaults { MaxDelayMs = 1 });
            sim.Run(3_000);
            var holder = Assert.Single(sim.Holders);
            for (var i = 0; i < 20; i++) sim.Run(50, proposalsPerTick: 1);
            var quick = Assert.Single(holder.Machine.QuickVoters);
            sim.Crash(sim.Nodes.Single(n => n.Id == quick));
            var waits = new List<long>();
            for (var i = 0; i < 20; i++)
            {
                var proposedAt = sim.NowMs;
                var version = sim.ProposeAnywhere();
                Assert.True(version > 0, sim.Replay);
                long committedAt = -1;
                sim.Watch = () =>
                {
                    if (committedAt < 0 && holder.Machine.Commit >= version) committedAt = sim.NowMs;
                };
                sim.Run(50);
                sim.Watch = null;
                Assert.True(committedAt >= 0, $"version {version} not committed within a tick; {sim.Replay}");
                waits.Add(committedAt - proposedAt);
            }
            Assert.All(waits, w => Assert.True(w <= LeaseSim.DeferredDelayMs + 2, $"a commit waited {w} ms ({string.Join(",", waits)}); {sim.Replay}"));
            Assert.Same(holder, Assert.Single(sim.Holders));
            sim.HealAndCheckConverged();
        }
    }
}
