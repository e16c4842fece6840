using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;

namespace DinoMesh.Node;

/// <summary>The disk chunk store as the cluster's chunk layer sees it (Cluster does not reference Storage).</summary>
internal sealed class StoreChunks : ILocalChunks
{
    private readonly ChunkStore _store;

    public StoreChunks(ChunkStore store) => _store = store;

    public (LocalRead Status, byte[]? Bytes) Read(ChunkId id)
    {
        var (status, bytes) = _store.ReadAll(id);
        return (Map(status), bytes);
    }

    private static LocalRead Map(ChunkReadStatus status) => status switch
    {
        ChunkReadStatus.Ok => LocalRead.Ok,
        ChunkReadStatus.NotFound => LocalRead.NotFound,
        ChunkReadStatus.Corrupt => LocalRead.Corrupt,
        _ => LocalRead.Failed,
    };

    public (LocalRead Status, PooledBuffer? Chunk) ReadPooled(ChunkId id, BufferPool buffers)
    {
        var (status, chunk) = _store.ReadAllPooled(id, buffers);
        return (Map(status), chunk);
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

    public (long Total, long Free)? Capacity()
    {
        try
        {
            return _store.Capacity();
        }
        catch (IOException)
        {
            return null;
        }
    }

    public bool Sync()
    {
        try
        {
            _store.SyncAll();
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
