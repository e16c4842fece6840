using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Cluster.Chunks;

/// <summary>What a local read of a whole chunk found.</summary>
public enum LocalRead
{
    Ok,
    NotFound,
    /// <summary>The file did not hash to its id; the store quarantined it.</summary>
    Corrupt,
    Failed,
}

/// <summary>What storing a chunk locally did.</summary>
public enum LocalWrite
{
    Stored,
    AlreadyPresent,
    NoSpace,
    Failed,
}

/// <summary>A chunk file as the local store holds it; <paramref name="ModifiedNs"/> is when it was written (ns since the epoch).</summary>
public readonly record struct LocalChunk(ChunkId Id, long Length, long ModifiedNs);

/// <summary>
/// This node's chunk store, as the cluster's chunk layer uses it: serve, import, delete, list, sync. The node hands
/// in the disk store; tests use an in-memory one.
/// </summary>
public interface ILocalChunks
{
    /// <summary>The whole chunk, verified against its id (a corrupt copy is never returned).</summary>
    (LocalRead Status, byte[]? Bytes) Read(ChunkId id);

    /// <summary>
    /// The whole chunk, verified like <see cref="Read"/>, in a buffer rented from <paramref name="buffers"/> whose one
    /// reference is the caller's (page-aligned, so a disk store reads it there with no copy). The default reads, then
    /// copies. On any status but <see cref="LocalRead.Ok"/> nothing is lent.
    /// </summary>
    (LocalRead Status, PooledBuffer? Chunk) ReadPooled(ChunkId id, BufferPool buffers)
    {
        var (status, bytes) = Read(id);
        if (status != LocalRead.Ok || bytes is null) return (status, null);
        var buffer = buffers.Rent(bytes.Length);
        bytes.CopyTo(buffer.Memory);
        return (status, buffer);
    }

    /// <summary>Stores verified bytes (temp file and rename on disk).</summary>
    LocalWrite Import(VerifiedChunk chunk);

    bool Contains(ChunkId id);

    /// <summary>Removes the chunk; false when it was not there.</summary>
    bool Delete(ChunkId id);

    /// <summary>Every chunk held (a directory walk on disk: for start-up and rare reconciliation only).</summary>
    IEnumerable<LocalChunk> Inventory();

    /// <summary>
    /// Size and free space of the disk the chunks are on, in bytes; null when unknown (an in-memory store, or the
    /// disk could not be asked). The cache keeps a reserve of it free (<see cref="ChunkOptions.FreeSpaceReserve"/>).
    /// </summary>
    (long Total, long Free)? Capacity() => null;

    /// <summary>Makes every chunk stored so far durable (syncfs on disk); false on a writeback error.</summary>
    bool Sync();
}
