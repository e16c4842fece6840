using System.Text;
using DinoMesh.Cluster.Membership;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>The broadcast queue and the suspicion timer on their own (they are internal; the test project sees them).</summary>
public class MembershipMechanismTests
{
    private static PeerId Id(string name) => PeerId.FromPublicKey(Encoding.UTF8.GetBytes(name));

    [Fact]
    public void A_newer_update_about_the_same_member_replaces_the_queued_one()
    {
        var queue = new BroadcastQueue();
        queue.Enqueue(new Alive(Id("a"), 0, "a:1", ""));
        queue.Enqueue(new Suspect(Id("a"), 0, Id("b")));

        var taken = queue.Take(10, 5);

        Assert.Equal(new Suspect(Id("a"), 0, Id("b")), Assert.Single(taken));
    }

    [Fact]
    public void The_least_sent_and_then_newest_updates_go_first_and_each_is_sent_a_bounded_number_of_times()
    {
        var queue = new BroadcastQueue();
        var (a, b, c) = (new Left(Id("a"), 1), new Left(Id("b"), 1), new Left(Id("c"), 1));
        queue.Enqueue(a);
        queue.Enqueue(b);

        var first = queue.Take(1, 2);
        queue.Enqueue(c);
        var second = queue.Take(2, 2);
        var third = queue.Take(3, 2);
        var fourth = queue.Take(3, 2);

        Assert.Equal([b], first);
        Assert.Equal([c, a], second);
        Assert.Equal([c, b, a], third);
        Assert.Empty(fourth);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void A_suspicion_shrinks_from_max_to_min_as_distinct_members_confirm_it()
    {
        var start = TimeSpan.FromSeconds(10);
        var (min, max) = (TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(12));
        var suspicion = new Suspicion(Id("a"), 0, start, min, max, expected: 3);

        var unconfirmed = suspicion.Deadline;
        var repeated = suspicion.Confirm(Id("a"));
        suspicion.Confirm(Id("b"));
        var once = suspicion.Deadline;
        suspicion.Confirm(Id("c"));
        suspicion.Confirm(Id("d"));
        var full = suspicion.Deadline;

        Assert.Equal(start + max, unconfirmed);
        Assert.False(repeated);
        Assert.Equal(start + max - (max - min) * (Math.Log(2) / Math.Log(4)), once);
        Assert.Equal(start + min, full);
    }
}
