namespace DinoMesh.Volume;

/// <summary>
/// Space on the chunk disk that this node can free by giving up chunk copies it holds beyond its duty (in a cluster,
/// cached chunks whose placement nodes hold them). <see cref="ChunkAccess"/> asks it when a user's write, or the import
/// of a chunk fetched for a read, finds the disk full, and tries the store once more when it says room was made. The
/// volume does not know what a cache or a placement node is; the node hands in the cluster's cache behind this.
/// </summary>
public interface IChunkRoom
{
    /// <summary>
    /// Frees at least <paramref name="bytes"/> if it can, within a short deadline, blocking the caller meanwhile; true
    /// when room was made (a store is worth trying again), false when nothing could be given up.
    /// </summary>
    bool TryMakeRoom(long bytes);
}
