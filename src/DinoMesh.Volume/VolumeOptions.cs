using DinoMesh.Fuse;

namespace DinoMesh.Volume;

/// <summary>Tunables of the mounted volume.</summary>
public sealed record VolumeOptions
{
    /// <summary>Files are cut into chunks at multiples of this size (a full aligned block becomes one chunk).</summary>
    public int ChunkSize { get; init; } = 1024 * 1024;

    /// <summary>Dirty blocks one file may hold in memory before the oldest is turned into chunks early.</summary>
    public int MaxDirtyBlocksPerFile { get; init; } = 16;

    /// <summary>Extents chunked but not committed that one file may gather before they are committed in the background
    /// (a file written at many places and never flushed would otherwise keep them all in memory until it closes).</summary>
    public int PendingExtentsBeforeCommit { get; init; } = 1024;

    /// <summary>How long the kernel may cache names and attributes. Changes made on this node invalidate them at once;
    /// changes from peers are pushed with explicit notifications, so this is only a backstop.</summary>
    public TimeSpan EntryTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan AttrTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Block size reported in st_blksize (the I/O size tools such as cp use).</summary>
    public uint PreferredIoSize { get; init; } = 128 * 1024;

    /// <summary>When reads move atime: relatime (Linux's default), strictatime or noatime.</summary>
    public MountAtime Atime { get; init; } = MountAtime.Relatime;

    /// <summary>How often atime updates recorded by reads are committed (each file's costs one SetAttributes).</summary>
    public TimeSpan AtimeFlushInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Committed extents in one chunk-size block at which this node's compactor merges some of them (<see cref="Compactor"/>);
    /// below 2, no compaction. Bounds the extents per block of a file grown by small flushed writes.
    /// </summary>
    public int CompactionThreshold { get; init; } = 16;

    /// <summary>Bytes per second the compactor may rewrite at most (0: no bound).</summary>
    public long CompactionBytesPerSecond { get; init; } = 32L << 20;

    /// <summary>
    /// How often the compactor scans the committed state for fragmented blocks of files unchanged for as long, beyond
    /// the passes after the start: those a node that died for good left (0 or less: never). One member takes each file
    /// per scan (Compactor.StartScan.cs).
    /// </summary>
    public TimeSpan CompactionScanEvery { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The shortest time between two of the compactor's summary lines ("compaction since start: …"); a line is written
    /// only when a run was compacted or given up for space since the last one.
    /// </summary>
    public TimeSpan CompactionReportEvery { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long the compactor stores nothing after the chunk store (or the metadata log) answered ENOSPC to one of its
    /// runs; the run's block stays queued for the look after the pause. Without it every append to a busy block of
    /// inline pieces, and every scan, would read the block and fail to store it again while the disk stays full.
    /// </summary>
    public TimeSpan CompactionNoSpacePause { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The longest pause after ENOSPC or the free-space reserve (<see cref="CompactionFreeSpaceReserve"/>): each further
    /// failure in a row doubles the pause from <see cref="CompactionNoSpacePause"/> up to this; a compaction that stores
    /// its merged chunk starts again from the first (<see cref="CompactionPause"/>). A disk that stays full then costs a
    /// read of the block and one log line every 16 min, not every minute.
    /// </summary>
    public TimeSpan CompactionNoSpacePauseMax { get; init; } = TimeSpan.FromMinutes(16);

    /// <summary>
    /// Free bytes the compactor leaves on the chunk store's filesystem: it does not store a merged chunk that would leave
    /// less (counted as <see cref="CompactionCounts.LowSpace"/>, then paused as after ENOSPC). Null: the default of
    /// <see cref="CompactionReserve.For"/> (the larger of 64 MiB and 1 % of the filesystem, at most 1 GiB). Only the
    /// compactor's own stores are held back, never a user's write. 0: no reserve (only the store's ENOSPC stops it).
    /// </summary>
    public long? CompactionFreeSpaceReserve { get; init; }

    /// <summary>
    /// How long orphans that other nodes' removals left waiting here gather before one commit releases them all
    /// (<see cref="OrphanReleases"/>): a removal elsewhere then costs this node a fraction of a commit, not one each.
    /// </summary>
    public TimeSpan OrphanReleaseLinger { get; init; } = TimeSpan.FromMilliseconds(10);
}
