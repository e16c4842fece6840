using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// A commit policy in front of another: a mutation that introduces chunks (a write whose chunks the tree does not
/// reference yet) is proposed only once those chunks sit on R nodes, so an acknowledged write survives the loss of any
/// R - 1 machines. <see cref="SyncAsync"/> adds the chunk tier to fsync: the peers that took chunks sync them too.
/// </summary>
public sealed class ReplicatingCommitter : IMetadataCommitter
{
    private readonly IMetadataCommitter _inner;
    private readonly ChunkReplicator _replicator;

    public ReplicatingCommitter(IMetadataCommitter inner, ChunkReplicator replicator)
    {
        _inner = inner;
        _replicator = replicator;
    }

    public FileSystemState Current => _inner.Current;

    public PeerId Self => _inner.Self;

    public event Action<ApplyResult>? AppliedRemotely
    {
        add => _inner.AppliedRemotely += value;
        remove => _inner.AppliedRemotely -= value;
    }

    public async ValueTask<ApplyResult> CommitAsync(Mutation mutation, CancellationToken cancellationToken)
    {
        var introduced = mutation.Kind switch
        {
            WriteExtents write => Introduced(write, _inner.Current),
            // A compaction's new chunk is placed like a write's: once committed, the chunks it replaces may be collected.
            CompactExtents compact => Introduced(compact, _inner.Current),
            _ => null,
        };
        if (introduced is { Count: > 0 } chunks && !await _replicator.ReplicateAsync(chunks, cancellationToken))
        {
            return ApplyResult.Fail(FsError.Io, _inner.Current);
        }
        return await _inner.CommitAsync(mutation, cancellationToken);
    }

    public ValueTask ReadBarrierAsync(CancellationToken cancellationToken) => _inner.ReadBarrierAsync(cancellationToken);

    public ValueTask<bool> StrictReadBarrierAsync(CancellationToken cancellationToken) => _inner.StrictReadBarrierAsync(cancellationToken);

    /// <summary>
    /// fsync: this node's tier (its chunks and log, then the log on a majority) and the peers that took chunks, at once.
    /// They are independent conditions, each a device flush somewhere, and fsync returns only when all of them hold;
    /// one after the other, the peers' flushes only added their time to the local one's.
    /// </summary>
    public async ValueTask<FsError> SyncAsync(CancellationToken cancellationToken)
    {
        var peers = _replicator.SyncPeersAsync(cancellationToken).AsTask();
        FsError local;
        try
        {
            local = await _inner.SyncAsync(cancellationToken);
        }
        finally
        {
            // Not left running unobserved when the local tier throws (cancelled): its outcome is only waited for.
            await Task.WhenAny(peers);
        }
        if (local != FsError.None) return local;
        return await peers ? FsError.None : FsError.Io;
    }

    /// <summary>The chunks a write references that the tree does not (shared chunks of a copy are already replicated).</summary>
    public static List<ChunkId> Introduced(WriteExtents write, FileSystemState state)
    {
        var chunks = new List<ChunkId>();
        var seen = new HashSet<ChunkId>();
        foreach (var e in write.Extents)
        {
            if (e.Inline is null && !state.ChunkRefs.ContainsKey(e.Chunk) && seen.Add(e.Chunk)) chunks.Add(e.Chunk);
        }
        return chunks;
    }

    /// <summary>The replacement chunk of a compaction, when the tree does not reference it yet.</summary>
    public static List<ChunkId> Introduced(CompactExtents compact, FileSystemState state) =>
        compact.Replacement is { Inline: null, Chunk: var chunk } && !state.ChunkRefs.ContainsKey(chunk) ? [chunk] : [];
}
