namespace DinoMesh.Core.Chunks;

/// <summary>
/// The chunk disk as statfs and fallocate count it: its size, its free bytes, and the bytes the cache could give up
/// (<see cref="IChunkRoom.Evictable"/>). Cached chunks that other members hold are space a write gets on demand (the
/// cache evicts them at the write's ENOSPC), so they count as free; the count is capped by what the disk holds
/// (<see cref="Total"/> - <see cref="Free"/>), so an old count never makes the free space exceed the disk's size.
/// </summary>
public readonly record struct ChunkDiskSpace(long Total, long Free, long Evictable)
{
    /// <summary>The evictable bytes that count: never negative, never more than the disk's used bytes.</summary>
    public long EvictableCounted => Math.Clamp(Evictable, 0, Math.Max(0, Total - Math.Max(0, Free)));

    /// <summary>What df shows as free and available: the disk's free bytes and what the cache could give up.</summary>
    public long Available => Math.Max(0, Free) + EvictableCounted;

    /// <summary>How <paramref name="bytes"/> more fit: now, once the cache gives up what the disk lacks, or not at all.</summary>
    public RoomFor RoomFor(long bytes) =>
        bytes <= Free ? Chunks.RoomFor.Fits : bytes <= Available ? Chunks.RoomFor.AfterEviction : Chunks.RoomFor.None;

    /// <summary>What the cache must give up for <paramref name="bytes"/> more to fit (0 when they fit now).</summary>
    public long Shortfall(long bytes) => Math.Max(0, bytes - Math.Max(0, Free));
}

/// <summary>The answer of <see cref="ChunkDiskSpace.RoomFor"/>.</summary>
public enum RoomFor
{
    /// <summary>The disk's free space holds them.</summary>
    Fits,

    /// <summary>Only with the cache's evictable bytes: ask the room for <see cref="ChunkDiskSpace.Shortfall"/>.</summary>
    AfterEviction,

    /// <summary>Not even with every evictable byte given up: ENOSPC without evicting anything.</summary>
    None,
}
