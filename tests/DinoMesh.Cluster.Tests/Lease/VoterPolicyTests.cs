using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The holder's voter rule, case by case: a dead voter goes only when that lets the cluster survive more failures; a
/// caught-up learner takes a dead voter's place first; growth stays at odd counts up to five.
/// </summary>
public class VoterPolicyTests
{
    // Sorted names, so "the smallest PeerId first" is the first learner listed.
    private static readonly PeerId H = Peer('a'), B = Peer('b'), C = Peer('c'), D = Peer('d'), E = Peer('e'), F = Peer('f');

    private static PeerId Peer(char c) => new(new string(c, 64));

    /// <summary>The policy with every listed member caught up, and <paramref name="dead"/> held dead.</summary>
    private static PeerId[]? Next(PeerId[] voters, PeerId[] members, params PeerId[] dead) =>
        VoterPolicy.Next(H, voters, members, p => !dead.Contains(p), members.ToDictionary(m => m, _ => 100L), 100);

    private static void AssertVoters(PeerId[]? expected, PeerId[]? actual) =>
        Assert.Equal(expected?.Order().ToArray(), actual?.Order().ToArray());

    [Fact]
    public void Three_voters_keep_a_dead_one_when_no_learner_can_take_its_place()
    {
        // Both live voters are needed either way; dropped, the "dead" one (stopped, cut off) would have to wait for a
        // holder to promote it again once back.
        Assert.Null(Next([H, B, C], [H, B, C], C));
    }

    [Fact]
    public void Two_voters_drop_a_dead_one_so_the_holder_commits_alone()
    {
        AssertVoters([H], Next([H, B], [H, B], B));
    }

    [Fact]
    public void Five_voters_keep_one_dead_voter_and_drop_two_one_at_a_time()
    {
        Assert.Null(Next([H, B, C, D, E], [H, B, C, D, E], E));
        AssertVoters([H, B, C, E], Next([H, B, C, D, E], [H, B, C, D, E], D, E));
        AssertVoters([H, B, C], Next([H, B, C, E], [H, B, C, D, E], D, E));
    }

    [Fact]
    public void A_dead_voter_is_kept_while_the_live_ones_are_no_majority_of_the_smaller_set()
    {
        // Dropping one of two dead voters out of three leaves two voters needing two: the holder alone could not commit
        // the change, and an uncommitted configuration entry would still count in its log.
        Assert.Null(Next([H, B, C], [H, B, C], B, C));
    }

    [Fact]
    public void A_caught_up_learner_takes_a_dead_voters_place_before_it_is_dropped()
    {
        AssertVoters([H, B, C, D], Next([H, B, C], [H, B, C, D], C));
        AssertVoters([H, B, D], Next([H, B, C, D], [H, B, C, D], C));
    }

    [Fact]
    public void At_five_voters_a_dead_one_makes_room_for_a_learner()
    {
        AssertVoters([H, B, C, D], Next([H, B, C, D, E], [H, B, C, D, E, F], E));
        AssertVoters([H, B, C, D, F], Next([H, B, C, D], [H, B, C, D, E, F], E));
    }

    [Fact]
    public void A_voter_that_is_no_longer_a_member_goes_at_once()
    {
        AssertVoters([H, B], Next([H, B, C], [H, B]));
    }

    [Fact]
    public void Healthy_clusters_grow_by_odd_counts_up_to_five()
    {
        AssertVoters([H, B], Next([H], [H, B, C]));
        Assert.Null(Next([H, B, C], [H, B, C, D]));
        AssertVoters([H, B, C, D], Next([H, B, C], [H, B, C, D, E]));
        Assert.Null(Next([H, B, C, D, E], [H, B, C, D, E, F]));
    }

    [Fact]
    public void A_learner_behind_the_holders_log_or_held_dead_is_not_promoted()
    {
        var members = new[] { H, B, C };
        var matches = new Dictionary<PeerId, long> { [H] = 1000, [B] = 1000, [C] = 1000 - VoterPolicy.CaughtUpLag - 1 };
        Assert.Null(VoterPolicy.Next(H, [H], members, _ => true, new Dictionary<PeerId, long> { [H] = 1000 }, 1000));
        Assert.Null(VoterPolicy.Next(H, [H, B], members, _ => true, matches, 1000));
        Assert.Null(Next([H, B], members, C));
    }
}
