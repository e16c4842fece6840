namespace DinoMesh.Core.Chunks;

/// <summary>
/// Space on the chunk disk that this node can free by giving up chunk copies it holds beyond its duty (in a cluster,
/// cached chunks whose placement nodes hold them). Every writer of a chunk asks it through <see cref="ChunkRoom.Write"/>
/// (or <see cref="ChunkRoom.WriteAsync"/>) when the disk is full: a user's store, the import of a chunk fetched for a
/// read, repair's pull of a chunk placed here, the compactor's merged chunk and a chunk a peer pushes here; fallocate asks
/// it for what the disk lacks. The writers do not know what a cache or a placement node is; the node hands in the
/// cluster's cache behind this (<c>CacheRoom</c>).
/// </summary>
public interface IChunkRoom
{
    /// <summary>
    /// Frees at least <paramref name="bytes"/> if it can, within a short deadline, blocking the caller meanwhile; true
    /// when room was made (a store is worth trying again), false when nothing could be given up.
    /// </summary>
    bool TryMakeRoom(long bytes);

    /// <summary>
    /// <see cref="TryMakeRoom"/> without holding a thread while the room is made (a pushed chunk's put, repair's pull,
    /// fallocate). <paramref name="cancellationToken"/> is the caller's; the room's own deadline applies as well.
    /// </summary>
    Task<bool> MakeRoomAsync(long bytes, CancellationToken cancellationToken) => Task.FromResult(TryMakeRoom(bytes));

    /// <summary>
    /// Bytes this room could free without asking anyone now, as last counted (the cache's chunks that every placement
    /// node confirmed holding): what statfs and fallocate count as free beside the disk's own free space. A cheap read,
    /// possibly a little old; <see cref="ChunkDiskSpace"/> caps it by what the disk holds.
    /// </summary>
    long Evictable => 0;
}
