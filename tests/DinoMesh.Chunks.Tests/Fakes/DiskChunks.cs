using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;

namespace DinoMesh.Chunks.Tests.Fakes;

/// <summary>The disk store behind the cluster's interface (the node's own adapter is internal to dino-node).</summary>
internal sealed class DiskChunks : ILocalChunks
{
    private readonly ChunkStore _store;

    public DiskChunks(ChunkStore store) => _store = store;

    public (LocalRead Status, byte[]? Bytes) Read(ChunkId id)
    {
        var (status, bytes) = _store.ReadAll(id);
        return (status switch
        {
            ChunkReadStatus.Ok => LocalRead.Ok,
            ChunkReadStatus.NotFound => LocalRead.NotFound,
            ChunkReadStatus.Corrupt => LocalRead.Corrupt,
            _ => LocalRead.Failed,
        }, bytes);
    }

    public LocalWrite Import(VerifiedChunk chunk) => _store.Import(chunk).Status switch
    {
        ChunkWriteStatus.Stored => LocalWrite.Stored,
        ChunkWriteStatus.AlreadyPresent => LocalWrite.AlreadyPresent,
        ChunkWriteStatus.NoSpace => LocalWrite.NoSpace,
        _ => LocalWrite.Failed,
    };

    public bool Contains(ChunkId id) => _store.Contains(id);

    public bool Delete(ChunkId id) => _store.Delete(id);

    public IEnumerable<LocalChunk> Inventory() => _store.Inventory().Select(c => new LocalChunk(c.Id, c.Length, c.ModifiedNs));

    public bool Sync()
    {
        _store.SyncAll();
        return true;
    }
}
