namespace DinoMesh.Storage.Chunks;

/// <summary>How a <see cref="ChunkStore"/> trades durability against throughput.</summary>
public sealed record ChunkStoreOptions
{
    /// <summary>
    /// fsync every chunk (and its directory) before <see cref="ChunkStore.Put"/> returns. Off by default:
    /// <list type="bullet">
    /// <item>an fsync costs a device flush (hundreds of microseconds to milliseconds); one per 4 KiB chunk would cap
    /// small-file throughput at a few thousand chunks per second, far below what the page cache can absorb;</item>
    /// <item>a process crash, even kill -9, loses nothing that write(2) accepted: the page cache belongs to the kernel;</item>
    /// <item>power loss is covered by durability points: the volume calls <see cref="ChunkStore.SyncAll"/> on fsync(2)
    /// and before every checkpoint of the metadata log, so one syncfs covers a whole batch. A chunk torn by a power cut
    /// before that point is still never served: reads check it (its at-rest checksum, else SHA-256) and quarantine it.</item>
    /// </list>
    /// Turn it on where each chunk must be durable on its own (e.g. a replica receiving chunks it must vouch for at once).
    /// </summary>
    public bool SyncEachChunk { get; init; }

    /// <summary>
    /// How many "this chunk file was verified" entries to remember. A hit skips rehashing a whole chunk for a small read;
    /// 64 Ki entries cost a few MiB and cover 256 GiB of 4 MiB chunks.
    /// </summary>
    public int VerifiedCacheCapacity { get; init; } = 65_536;

    /// <summary>
    /// Once a large chunk file (256 KiB and more) written here has reached the disk, drop its pages from the page
    /// cache (see <see cref="WrittenPages"/>). On by default: the bytes a writer wrote are cached once already, in the
    /// mounted file's pages, and a copy a peer pushed here is read, if ever, long after.
    /// </summary>
    public bool DropWrittenPages { get; init; } = true;

    /// <summary>
    /// Read a whole chunk that has an at-rest checksum with O_DIRECT, past the page cache. On by default: the mounted
    /// file's pages already cache what a reader read, so the chunk file's pages would be a second copy, and filling them
    /// cost more CPU than the read itself on the development machine (docs/benchmarks.md). A file system without
    /// direct I/O is detected on the first read and read through the cache from then on.
    /// </summary>
    public bool DirectReads { get; init; } = true;

    /// <summary>
    /// Bytes of chunk files written between background device flushes (<see cref="EarlyFlush"/>), so the syncfs of the
    /// next fsync waits only for what came after the last one; 0 turns them off. A flush costs a few milliseconds plus
    /// its share of the writes, so a streaming writer pays one every this many bytes and the fsync at its end waits for
    /// at most about that much.
    /// </summary>
    public long EarlyFlushBytes { get; init; } = 64L << 20;
}
