namespace DinoMesh.Core.Chunks;

/// <summary>
/// Space on the chunk disk that this node can free by giving up chunk copies it holds beyond its duty (in a cluster,
/// cached chunks whose placement nodes hold them). Every writer of a chunk asks it through <see cref="ChunkRoom.Write"/>
/// when the disk is full: a user's store, the import of a chunk fetched for a read, repair's pull of a chunk placed
/// here and the compactor's merged chunk. The writers do not know what a cache or a placement node is; the node hands
/// in the cluster's cache behind this (<c>CacheRoom</c>).
/// </summary>
public interface IChunkRoom
{
    /// <summary>
    /// Frees at least <paramref name="bytes"/> if it can, within a short deadline, blocking the caller meanwhile; true
    /// when room was made (a store is worth trying again), false when nothing could be given up.
    /// </summary>
    bool TryMakeRoom(long bytes);
}
