namespace DinoMesh.Node.Tests.Cluster;

/// <summary>
/// The time bounds the tests hold the cluster to, derived from the numbers of <c>MembershipConfig.Local()</c>
/// (src/DinoMesh.Cluster/Membership/MembershipConfig.cs, copied here because this project drives the executable and
/// references no DinoMesh library: keep them in step). Each bound is what the protocol promises on an idle machine;
/// <see cref="Deadline"/> adds the slack a loaded 2-core machine running several .NET daemons needs.
/// </summary>
public static class MembershipBounds
{
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(80);
    public const int SuspicionMult = 4;
    public const int SuspicionMaxTimeoutMult = 3;
    public static readonly TimeSpan GossipInterval = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan SyncInterval = TimeSpan.FromSeconds(2);

    /// <summary>Base suspicion timeout: SuspicionMult * max(1, log10 N) * ProbeInterval (800 ms for N &lt;= 10).</summary>
    public static TimeSpan SuspicionTimeout(int members) =>
        ProbeInterval * (SuspicionMult * Math.Max(1.0, Math.Log10(Math.Max(1, members))));

    /// <summary>An unconfirmed suspicion waits up to this long (Lifeguard): SuspicionMaxTimeoutMult times the base.</summary>
    public static TimeSpan MaxSuspicionTimeout(int members) => SuspicionTimeout(members) * SuspicionMaxTimeoutMult;

    /// <summary>
    /// From a crash to every live member holding it dead: each live member probes it within two round-robin passes
    /// over the others (2 (N-1) intervals, a reshuffle can put it last then first), the failed probe's own interval,
    /// the longest (unconfirmed) suspicion, and a few gossip rounds to spread the Dead.
    /// </summary>
    public static TimeSpan CrashDetection(int members) =>
        ProbeInterval * (2 * (members - 1) + 1) + MaxSuspicionTimeout(members) + GossipInterval * 4;

    /// <summary>
    /// From a healed partition to both sides alive again: the next anti-entropy sync (every SyncInterval, with a
    /// random member that may be a dead one: with N-1 others, expect one to pick across within N-1 intervals), then
    /// the refutation's gossip rounds.
    /// </summary>
    public static TimeSpan PartitionHeal(int members) => SyncInterval * (members - 1) + ProbeInterval * 2 + GossipInterval * 4;

    /// <summary>The protocol bound plus slack for a loaded machine: twice the bound, plus 5 s.</summary>
    public static TimeSpan Deadline(TimeSpan bound) => bound * 2 + TimeSpan.FromSeconds(5);
}
