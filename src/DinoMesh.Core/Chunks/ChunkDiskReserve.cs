namespace DinoMesh.Core.Chunks;

/// <summary>
/// The free space a node keeps on its chunk disk for users' writes: the larger of 64 MiB and 1 % of the filesystem,
/// at most 1 GiB. Background work that takes space (compaction) stops short of it, and the cache gives chunks back
/// until it is free again.
/// </summary>
public static class ChunkDiskReserve
{
    /// <summary>
    /// The floor: room for what writers have in flight. Each open file holds up to 16 dirty 1 MiB blocks that become
    /// chunks at its flush, so 64 MiB is a few busy writers' worth, and a small share of even a small disk (1.6 % of 4 GiB).
    /// </summary>
    public const long Floor = 64L << 20;

    /// <summary>The cap: 1 % of a 10 TiB disk would be 100 GiB held back for nothing.</summary>
    public const long Cap = 1L << 30;

    /// <summary>The reserve for a filesystem of <paramref name="totalBytes"/>: max(64 MiB, 1 %), at most 1 GiB.</summary>
    public static long For(long totalBytes) => Math.Min(Cap, Math.Max(Floor, totalBytes / 100));
}
