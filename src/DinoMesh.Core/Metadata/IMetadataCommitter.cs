using DinoMesh.Core.Identity;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// Where the volume sends metadata changes. On one node the log is local; in a cluster the same call goes to the lease
/// holder, which gives the change the next version. Either way the returned state already contains the change, so the
/// caller reads its own writes.
/// </summary>
public interface IMetadataCommitter
{
    /// <summary>The newest state this node has applied.</summary>
    FileSystemState Current { get; }

    /// <summary>This node: the proposer named in its mutations.</summary>
    PeerId Self { get; }

    /// <summary>Checks and commits one mutation; on error nothing was committed.</summary>
    ValueTask<ApplyResult> CommitAsync(Mutation mutation, CancellationToken cancellationToken);

    /// <summary>Makes every change committed so far durable against power loss (fsync semantics).</summary>
    ValueTask<FsError> SyncAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Returns once this node has applied every change acknowledged anywhere before the call (close-to-open: an open
    /// that follows sees the newest committed content). Alone, a node has nothing to wait for.
    /// </summary>
    ValueTask ReadBarrierAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// <see cref="ReadBarrierAsync"/> without its fallback: true once this node has applied every change acknowledged
    /// anywhere before the call, false when it could not learn that within the commit timeout (no holder, cut off from
    /// it). An O_APPEND open needs it: its writes land at the end of the file as this node knows it, and an end known
    /// from a stale state puts them over lines other nodes appended and had acknowledged.
    /// </summary>
    ValueTask<bool> StrictReadBarrierAsync(CancellationToken cancellationToken) => ValueTask.FromResult(true);

    /// <summary>Raised after a change another node proposed was applied here, for cache invalidation and orphan release.</summary>
    event Action<ApplyResult>? AppliedRemotely;
}
