namespace DinoMesh.Cluster.Lease;

/// <summary>
/// Timing and batching of the lease machine, in ticks (the driver decides how long a tick is: 50 ms on a LAN).
/// </summary>
public sealed record LeaseConfig
{
    /// <summary>The holder renews its lease (a heartbeat to every member) this often.</summary>
    public int HeartbeatTicks { get; init; } = 2;

    /// <summary>
    /// A voter that hears nothing from a holder for a random time in [ElectionTicks, 2 × ElectionTicks) starts a
    /// (pre-)election; a holder that has not heard from a majority for ElectionTicks steps down (check-quorum). A voter
    /// that heard from a holder within ElectionTicks still sees a valid lease and refuses to vote for anyone else.
    /// </summary>
    public int ElectionTicks { get; init; } = 12;

    /// <summary>Most entries in one append message (batching).</summary>
    public int MaxEntriesPerMessage { get; init; } = 512;

    /// <summary>Most payload bytes in one append message; at least one entry is always sent.</summary>
    public int MaxBytesPerMessage { get; init; } = 1 << 20;

    /// <summary>
    /// Append messages in flight to one follower before the holder waits for an answer (pipelining). Proposals that
    /// arrive meanwhile wait and then travel together in the next append: this is what batches commits.
    /// </summary>
    public int MaxInflight { get; init; } = 4;

    /// <summary>
    /// Heartbeats without any answer from a follower before the holder assumes its appends were lost and sends again
    /// from what it last acknowledged. Short enough to repair loss quickly, long enough not to flood a slow follower.
    /// </summary>
    public int ResendTicks { get; init; } = 5;

    /// <summary>
    /// Every member tells one other member (round robin) how far it has committed this often; a member behind it pulls
    /// the missing committed entries from that member when the holder's appends are not reaching it.
    /// </summary>
    public int GossipTicks { get; init; } = 10;

    /// <summary>
    /// How far behind a member's commit version must be before it pulls even though the holder's appends still
    /// arrive (it is then falling behind, not waiting for the next append).
    /// </summary>
    public int PullLag { get; init; } = 64;

    /// <summary>For a cluster on one machine or in simulation: the same, named.</summary>
    public static LeaseConfig Default { get; } = new();

    public void Validate()
    {
        if (HeartbeatTicks < 1 || ElectionTicks <= HeartbeatTicks) throw new ArgumentException("election ticks must exceed heartbeat ticks");
        if (MaxEntriesPerMessage < 1 || MaxBytesPerMessage < 1 || MaxInflight < 1 || ResendTicks < 1 || GossipTicks < 1 || PullLag < 1) throw new ArgumentException("batch limits must be positive");
    }
}
