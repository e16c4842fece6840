namespace DinoMesh.Cluster.Membership;

/// <summary>
/// Tuning of the membership protocol. Start from a profile (<see cref="Lan"/>, <see cref="Local"/>) and override with
/// <c>with</c>. The numbers and their reasoning follow hashicorp/memberlist, which has run them on large clusters.
/// </summary>
public sealed record MembershipConfig
{
    /// <summary>
    /// How often this node probes one member (the next in a shuffled round-robin order). A failed member is first
    /// probed by someone within about one interval; lower detects faster at the cost of more traffic (one ping per
    /// node per interval, plus its ack).
    /// </summary>
    public required TimeSpan ProbeInterval { get; init; }

    /// <summary>
    /// How long to wait for the direct Ack before asking <see cref="IndirectProbes"/> others to probe. Set it above the
    /// 99th percentile round trip; it must leave room in the interval for the indirect round (two round trips).
    /// </summary>
    public required TimeSpan ProbeTimeout { get; init; }

    /// <summary>
    /// k: members asked to probe on our behalf after a direct timeout. Any one Ack is enough, so a lossy or congested
    /// path between two nodes does not get the target suspected.
    /// </summary>
    public required int IndirectProbes { get; init; }

    /// <summary>
    /// Base suspicion timeout, in probe intervals, scaled by log10 of the cluster size: a bigger cluster needs more
    /// rounds for the Suspect to reach the member and its refutation to come back.
    /// See <see cref="SuspicionTimeout"/>.
    /// </summary>
    public required int SuspicionMult { get; init; }

    /// <summary>
    /// Lifeguard: a suspicion nobody else confirms starts at this multiple of the base timeout and shrinks toward the
    /// base as independent members report the same suspicion (SuspicionMult - 2 confirmations reach the base).
    /// A node that alone sees a failure (because its own link is bad) gives the target long to refute.
    /// </summary>
    public required int SuspicionMaxTimeoutMult { get; init; }

    /// <summary>
    /// Each update is piggybacked on RetransmitMult * ceil(log10(N + 1)) messages by each node that relays it,
    /// enough for an epidemic to reach all N nodes with high probability. See <see cref="RetransmitLimit"/>.
    /// </summary>
    public required int RetransmitMult { get; init; }

    /// <summary>Most updates carried by one message; the least-sent (then newest) go first.</summary>
    public required int MaxPiggyback { get; init; }

    /// <summary>How often pending updates are pushed to <see cref="GossipFanout"/> random members without waiting for a probe.</summary>
    public required TimeSpan GossipInterval { get; init; }

    /// <summary>Members each gossip round goes to.</summary>
    public required int GossipFanout { get; init; }

    /// <summary>Recently dead members still receive gossip for this long, so a falsely declared node hears it and refutes.</summary>
    public required TimeSpan GossipToTheDeadTime { get; init; }

    /// <summary>
    /// How often to exchange full state with one random member (anti-entropy). The member may be a dead one: that is
    /// how two sides of a healed partition, each thinking the other dead, find each other again.
    /// </summary>
    public required TimeSpan SyncInterval { get; init; }

    /// <summary>Dead and left members stay listed (and are sync targets) this long, then are forgotten.</summary>
    public required TimeSpan DeadRetention { get; init; }

    /// <summary>
    /// Lifeguard's local health: how far a node that misses its own deadlines may stretch its probe interval and probe
    /// timeout (the health score runs from 0 to this minus one; every timeout is
    /// multiplied by score + 1). 1 turns local health off: every node runs on the nominal timeouts whatever its state.
    /// </summary>
    public int AwarenessMaxMultiplier { get; init; } = 8;

    /// <summary>
    /// Lifeguard's local health also stretches the suspicion timeouts this node holds: a suspicion it starts or hears
    /// while its score is s lasts (s + 1) times as long (both the base and the unconfirmed maximum). memberlist does not
    /// do this, and with a few starved nodes among healthy ones it saves nothing (the healthy nodes, score 0, decide).
    /// It matters when every node is slow at once, as on one machine running many nodes: late refutations then still
    /// arrive in time (simulation, 32 nodes all stalling up to 1 s: 210 live nodes declared dead without, 0 with).
    /// The cost: a node cut off from everyone (its score at the maximum) takes up to AwarenessMaxMultiplier times longer
    /// to declare the others dead; the others detect it at the normal speed. False: memberlist's rule.
    /// </summary>
    public bool LocalHealthStretchesSuspicion { get; init; } = true;

    /// <summary>
    /// A timer that fires this much later than due means the node itself did not get to run in time (an overloaded
    /// core, a long GC pause). It then counts against its own health, and it decides nothing on that late tick: what
    /// fell due while it was not running (a probe's end, a suspicion's expiry) waits one probe timeout more, so the
    /// answers that queued up meanwhile are read first. Default: half the probe timeout.
    /// </summary>
    public TimeSpan? LateTickTolerance { get; init; }

    /// <summary>The lateness beyond which a tick counts as late (see <see cref="LateTickTolerance"/>).</summary>
    public TimeSpan LateTick => LateTickTolerance ?? ProbeTimeout / 2;

    /// <summary>
    /// Data-centre LAN: 1 s probe interval, 500 ms probe timeout, k = 3, suspicion 4 * log10(N) intervals (up to 6x that
    /// unconfirmed), retransmit 4 * log10(N + 1), gossip every 200 ms to 3, full sync every 30 s. A crashed node in a
    /// 100-node cluster is detected in ~10 s with a few messages per node per second.
    /// </summary>
    public static MembershipConfig Lan() => new()
    {
        ProbeInterval = TimeSpan.FromSeconds(1),
        ProbeTimeout = TimeSpan.FromMilliseconds(500),
        IndirectProbes = 3,
        SuspicionMult = 4,
        SuspicionMaxTimeoutMult = 6,
        RetransmitMult = 4,
        MaxPiggyback = 16,
        GossipInterval = TimeSpan.FromMilliseconds(200),
        GossipFanout = 3,
        GossipToTheDeadTime = TimeSpan.FromSeconds(30),
        SyncInterval = TimeSpan.FromSeconds(30),
        DeadRetention = TimeSpan.FromHours(1),
    };

    /// <summary>
    /// Loopback and tests: everything about 5x faster than <see cref="Lan"/> (200 ms probes, 80 ms timeout,
    /// suspicion 4 * log10(N) intervals up to 3x that, sync every 2 s), same k and retransmission, so behaviour is the
    /// LAN's at a smaller time scale. Round trips must stay well under 80 ms.
    /// SuspicionMult is the LAN's 4 (memberlist's and Lifeguard's value), not 3: many nodes sharing one machine's
    /// cores all run late together, and with 3 (two confirmations expected instead of one, and a 25 % shorter base)
    /// the simulator declared 3-70x more live nodes dead when every node stalled for up to 0.6-1 s, for 14 % faster
    /// detection of a real crash (docs/benchmarks.md, issue 13). SuspicionMaxTimeoutMult stays 3: 6 changed nothing there.
    /// </summary>
    public static MembershipConfig Local() => new()
    {
        ProbeInterval = TimeSpan.FromMilliseconds(200),
        ProbeTimeout = TimeSpan.FromMilliseconds(80),
        IndirectProbes = 3,
        SuspicionMult = 4,
        SuspicionMaxTimeoutMult = 3,
        RetransmitMult = 4,
        MaxPiggyback = 16,
        GossipInterval = TimeSpan.FromMilliseconds(50),
        GossipFanout = 3,
        GossipToTheDeadTime = TimeSpan.FromSeconds(5),
        SyncInterval = TimeSpan.FromSeconds(2),
        DeadRetention = TimeSpan.FromMinutes(5),
    };

    /// <summary>Base suspicion timeout for a cluster of <paramref name="members"/>: SuspicionMult * max(1, log10(N)) * ProbeInterval.</summary>
    public TimeSpan SuspicionTimeout(int members) =>
        ProbeInterval * (SuspicionMult * Math.Max(1.0, Math.Log10(Math.Max(1, members))));

    /// <summary>How many times one node sends one update in a cluster of <paramref name="members"/>.</summary>
    public int RetransmitLimit(int members) =>
        RetransmitMult * (int)Math.Ceiling(Math.Log10(members + 1));

    /// <summary>Why this configuration cannot work, or null if it can.</summary>
    public string? Validate()
    {
        if (ProbeInterval <= TimeSpan.Zero) return "ProbeInterval must be positive";
        if (ProbeTimeout <= TimeSpan.Zero || ProbeTimeout >= ProbeInterval) return "ProbeTimeout must be positive and shorter than ProbeInterval";
        if (IndirectProbes < 0) return "IndirectProbes must not be negative";
        if (SuspicionMult < 1 || SuspicionMaxTimeoutMult < 1) return "SuspicionMult and SuspicionMaxTimeoutMult must be at least 1";
        if (RetransmitMult < 1 || MaxPiggyback < 1) return "RetransmitMult and MaxPiggyback must be at least 1";
        if (GossipInterval <= TimeSpan.Zero || GossipFanout < 0) return "GossipInterval must be positive and GossipFanout not negative";
        if (SyncInterval <= TimeSpan.Zero || DeadRetention <= TimeSpan.Zero) return "SyncInterval and DeadRetention must be positive";
        if (AwarenessMaxMultiplier < 1) return "AwarenessMaxMultiplier must be at least 1 (1 turns local health off)";
        if (LateTick <= TimeSpan.Zero) return "LateTickTolerance must be positive";
        return null;
    }
}
