namespace DinoMesh.Cluster.Chunks;

/// <summary>How chunks are placed, fetched, replicated, repaired, cached and collected.</summary>
public sealed record ChunkOptions
{
    /// <summary>Copies of every chunk (--replicas), capped by the number of live members.</summary>
    public int Replicas { get; init; } = 2;

    /// <summary>
    /// Bytes this node keeps beyond the chunks it holds as a placement node (--cache-size): chunks it wrote or fetched
    /// for others. The least recently used go first once a placement node is known to hold them.
    /// </summary>
    public long CacheBytes { get; init; } = 8L << 30;

    /// <summary>
    /// Free bytes the cache leaves on the chunk disk for users' writes: below it, the sweep evicts least recently used
    /// cached chunks (by the same rule as over <see cref="CacheBytes"/>) until it is free again or nothing can go. Null:
    /// <see cref="DinoMesh.Core.Chunks.ChunkDiskReserve.For"/> of the disk's size (max(64 MiB, 1 %), at most 1 GiB); 0: none.
    /// </summary>
    public long? FreeSpaceReserve { get; init; }

    /// <summary>
    /// How long a write (or a fetched chunk's import) that found the chunk disk full waits for the cache to give chunks
    /// up before it fails with ENOSPC as it would without a cache: a has-query of the placement nodes and the deletes.
    /// </summary>
    public TimeSpan MakeRoomDeadline { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a chunk no committed state references stays before it is deleted (--gc-grace). Long enough for a commit
    /// delayed by a lease change to still find its chunks; a restart starts the period afresh.
    /// </summary>
    public TimeSpan GcGrace { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Deadline of one get or put of a chunk.</summary>
    public TimeSpan TransferDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline of a has-query, a usage query.</summary>
    public TimeSpan QueryDeadline { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Deadline of a remote sync (syncfs there).</summary>
    public TimeSpan SyncDeadline { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Fetches from all peers at once, and from one peer at once (more go to the next holder).</summary>
    public int MaxFetches { get; init; } = 16;

    public int MaxFetchesPerPeer { get; init; } = 4;

    /// <summary>How long a peer that served bytes that did not verify is asked only after every other holder.</summary>
    public TimeSpan BadPeerPenalty { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a commit waits for its chunks to reach their copies before it fails with EIO.</summary>
    public TimeSpan ReplicationTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Pushes running at once, and memory for chunk bytes waiting to be pushed (beyond it they are read back from disk).</summary>
    public int MaxPushes { get; init; } = 8;

    public long MaxPendingPushBytes { get; init; } = 64L << 20;

    /// <summary>
    /// How often a put still waiting for its answer checks that its target is a live member: a target declared dead (or
    /// gone) meanwhile is given up on then, not at the put's deadline, and the chunk goes to the next in its ranking. A
    /// hung peer (its connections still up, nothing answered) otherwise held every close that pushed to it, and every
    /// push waiting behind it for a slot, for the whole <see cref="TransferDeadline"/>.
    /// </summary>
    public TimeSpan PushLivenessCheck { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How often repair looks for chunks this node should hold and lacks (also after every membership change).</summary>
    public TimeSpan RepairInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes per second repair may copy, so foreground reads stay fast; repairs running at once.</summary>
    public long RepairBytesPerSecond { get; init; } = 128L << 20;

    public int ParallelRepairs { get; init; } = 2;

    /// <summary>How often garbage collection and cache eviction run at most (see <see cref="SweepEvery"/>).</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the sweep runs: <see cref="SweepInterval"/>, but at least four times per grace period (and not more
    /// than once a second), so a chunk goes within about a quarter grace of its grace ending, however short the grace
    /// an operator set. A 30 s grace no longer gives the space back up to 40 s later.
    /// </summary>
    public TimeSpan SweepEvery => TimeSpan.FromTicks(Math.Min(SweepInterval.Ticks, Math.Max(TimeSpan.TicksPerSecond, GcGrace.Ticks / 4)));

    /// <summary>How old the members' stored bytes may be before a look (`peers`, the status page) asks them again.</summary>
    public TimeSpan UsageInterval { get; init; } = TimeSpan.FromSeconds(10);
}
