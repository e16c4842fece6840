namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// What `dino-node status` shows of the chunk layer. Held chunks are split three ways: for placement (this node is one
/// of the chunk's R nodes), cached (referenced, placed elsewhere, kept within the cache bound) and unreferenced (no
/// committed state points at them: garbage collection deletes them after the grace period). Missing counts referenced
/// chunks this node should hold as a placement node and lacks — under-replicated as seen from here — which the repair
/// queue is copying back; for up to a repair interval after a write, that includes new chunks whose writer was not a
/// placement node and stood in for this one (they have R copies, the writer's among them, and are pulled at the next scan).
/// Evicted counts every chunk the cache gave up; EvictedForSpace those of them given up because the chunk disk was short
/// of space (under FreeReserveBytes free, or a write's ENOSPC). EvictableBytes is what the cache could give up now (cached
/// chunks every placement node confirmed, as last counted): statfs and fallocate count it as free.
/// </summary>
public sealed record ChunkStatus(
    int Replicas,
    int LiveMembers,
    long PlacementChunks,
    long PlacementBytes,
    long CachedChunks,
    long CachedBytes,
    long CacheLimitBytes,
    long UnreferencedChunks,
    long UnreferencedBytes,
    double GcGraceSeconds,
    long Missing,
    int RepairQueue,
    long Repaired,
    long RepairedBytes,
    long Collected,
    long CollectedBytes,
    long Evicted,
    long EvictedBytes,
    long Fetched,
    long FetchedBytes,
    long BadAnswers,
    long Pushed,
    long PushedBytes,
    long Served,
    long ServedBytes,
    long EvictedForSpace = 0,
    long EvictedForSpaceBytes = 0,
    long? FreeReserveBytes = null,
    long EvictableBytes = 0);
