using DinoMesh.Cluster.Lease;
using static DinoMesh.Cluster.Tests.Lease.ThreeVoters;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A member pulls the committed entries it lacks from a member whose digest shows it behind, one pull at a time. A lost
/// pull must not silence it for long: the digests of an idle cluster come about every 2 s per member.
/// </summary>
public sealed class LeaseGossipPullTests
{
    [Fact]
    public void A_lost_pull_is_given_up_after_its_timeout_and_the_next_digest_pulls_again()
    {
        var cluster = new ThreeVoters();
        var f1 = cluster.Node(F1);
        // Far enough ahead that the member pulls although the holder's appends still reach it.
        var ahead = new LogDigest(f1.Term, f1.Commit + LeaseConfig.Default.PullLag + 10);

        f1.Step(F2, ahead);
        var first = Assert.Single(cluster.Queued(F1, F2).OfType<LogPull>());
        Assert.Equal(f1.Commit + 1, first.From);
        cluster.DropQueued(F1, F2);   // lost on the way

        // While it is outstanding, another digest does not start a second pull.
        f1.Tick();
        f1.Step(F2, ahead);
        Assert.Empty(cluster.Queued(F1, F2).OfType<LogPull>());

        for (var i = 0; i < LeaseConfig.Default.PullTimeoutTicks; i++) f1.Tick();
        cluster.DropQueued(F1, F2);
        f1.Step(F2, ahead);
        var again = Assert.Single(cluster.Queued(F1, F2).OfType<LogPull>());
        Assert.Equal(first.From, again.From);
        Assert.True(LeaseConfig.Default.PullTimeoutTicks < LeaseConfig.Default.GossipTicks,
            "a lost pull is retried within one gossip round");
    }

    [Fact]
    public void A_pull_timeout_below_one_tick_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new LeaseConfig { PullTimeoutTicks = 0 }.Validate());
    }
}
