namespace DinoMesh.Cluster.Membership;

/// <summary>
/// Lifeguard's local health: a score of how badly this node itself is doing, from 0 (healthy) to max - 1. Missed
/// deadlines of its own raise it (a timer that fired late, a failed probe that fewer helpers than asked answered with a
/// Nack, a suspicion about itself it had to refute); a probe answered in time lowers it. While it is above 0 the node
/// probes less often and waits longer for answers, so a node that is slow itself blames others less and adds less
/// load. Unlike memberlist, the suspicions it starts or hears meanwhile last longer too
/// (<see cref="MembershipConfig.LocalHealthStretchesSuspicion"/>): with a few slow nodes among healthy ones that saves
/// nothing in simulation, but when every node of a machine is slow at once it keeps late refutations in time.
/// </summary>
internal sealed class Awareness(int maxMultiplier)
{
    /// <summary>0 when healthy; at most maxMultiplier - 1.</summary>
    public int Score { get; private set; }

    /// <summary>The factor timeouts are stretched by: Score + 1.</summary>
    public int Multiplier => Score + 1;

    public void Apply(int delta) => Score = Math.Clamp(Score + delta, 0, Math.Max(0, maxMultiplier - 1));

    public TimeSpan Scale(TimeSpan timeout) => timeout * Multiplier;
}
