namespace DinoMesh.Volume;

/// <summary>
/// The free space background compaction leaves to users' writes. A merged chunk is new space taken at once, while the
/// pieces it replaces are freed only after garbage collection's grace (an hour): on a nearly full chunk disk a
/// compaction could otherwise take the last bytes a user's write needed, and the user would get ENOSPC on a disk they
/// did not fill.
/// The same reserve the cache gives chunks back for (<see cref="DinoMesh.Core.Chunks.ChunkDiskReserve"/>).
/// </summary>
internal static class CompactionReserve
{
    /// <summary>
    /// The floor: room for what writers have in flight when the compactor looks. Each open file holds up to 16 dirty
    /// 1 MiB blocks (<see cref="VolumeOptions.MaxDirtyBlocksPerFile"/>) that become chunks at its flush, so 64 MiB is a
    /// few busy writers' worth, and a small share of even a small disk (1.6 % of 4 GiB).
    /// </summary>
    public const long Floor = DinoMesh.Core.Chunks.ChunkDiskReserve.Floor;

    /// <summary>
    /// The cap: 1 % of a 10 TiB disk would be 100 GiB held back from compaction for nothing; past 1 GiB the reserve
    /// only delays compaction, which itself frees space once its pieces are collected.
    /// </summary>
    public const long Cap = DinoMesh.Core.Chunks.ChunkDiskReserve.Cap;

    /// <summary>The default reserve for a filesystem of <paramref name="totalBytes"/>: max(64 MiB, 1 %), at most 1 GiB.</summary>
    public static long For(long totalBytes) => DinoMesh.Core.Chunks.ChunkDiskReserve.For(totalBytes);

    /// <summary>
    /// Whether storing <paramref name="bytes"/> more leaves at least <paramref name="reserve"/> of <paramref name="free"/>.
    /// </summary>
    public static bool Leaves(long free, long bytes, long reserve) => free - bytes >= reserve;
}
