namespace DinoMesh.Core.Chunks;

/// <summary>
/// Where a chunk this node does not hold comes from: in a cluster, the peers that hold it (the proposer of the commit
/// that introduced it, its placement nodes, anyone who announced it); in tests, an in-memory fake. The volume asks only
/// after its local store came up empty (or corrupt), and writes what it gets into the local store.
/// </summary>
public interface IChunkSource
{
    /// <summary>
    /// Fetches the chunk from elsewhere. What comes back has been checked against <paramref name="id"/>: a peer that
    /// serves other bytes is not believed, and the source goes on to the next one.
    /// </summary>
    ValueTask<ChunkFetch> FetchAsync(ChunkId id, CancellationToken cancellationToken);
}

/// <summary>How a fetch ended.</summary>
public enum ChunkFetchStatus
{
    /// <summary><see cref="ChunkFetch.Chunk"/> holds the verified bytes.</summary>
    Ok,

    /// <summary>Every peer asked answered that it does not hold the chunk (or served bytes that did not verify).</summary>
    NotFound,

    /// <summary>No peer could be asked or answered in time (unreachable, timeouts, no peers at all).</summary>
    Unavailable,
}

/// <summary>
/// The outcome of <see cref="IChunkSource.FetchAsync"/>; <see cref="Detail"/> explains a failure, for logs. When the
/// chunk's bytes lie in a pooled buffer, <see cref="Lease"/> is that buffer and its one reference belongs to whoever
/// received this fetch: release it once done with <see cref="Chunk"/>'s bytes (retain it first to keep them longer), and
/// never read the bytes after. A receiver that ignores the lease only leaves the buffer to the collector.
/// </summary>
public readonly record struct ChunkFetch(ChunkFetchStatus Status, VerifiedChunk? Chunk, string Detail = "", Buffers.PooledBuffer? Lease = null)
{
    public bool Ok => Status == ChunkFetchStatus.Ok;

    public static ChunkFetch Found(VerifiedChunk chunk, Buffers.PooledBuffer? lease = null) => new(ChunkFetchStatus.Ok, chunk, "", lease);

    public static ChunkFetch Failed(ChunkFetchStatus status, string detail) => new(status, null, detail);
}
