using DinoMesh.Core.Chunks;

namespace DinoMesh.Volume;

/// <summary>
/// The verified bytes of chunks fetched or loaded lately, bounded by total size, least recently used out first. A
/// fetched chunk is read from here while its file on disk is too new for the store's "verified" memo (a file changed
/// within the last moments is rehashed on every read), and a sequential read finds here the chunks loaded ahead of
/// it, so the reads that follow cost a copy, not a disk read and a hash.
/// </summary>
internal sealed class RecentChunks
{
    private readonly long _capacityBytes;
    private readonly Lock _gate = new();
    private readonly Dictionary<ChunkId, LinkedListNode<(ChunkId Id, ReadOnlyMemory<byte> Bytes)>> _entries = [];
    private readonly LinkedList<(ChunkId Id, ReadOnlyMemory<byte> Bytes)> _recency = new();
    private long _bytes;

    public RecentChunks(long capacityBytes) => _capacityBytes = capacityBytes;

    public bool Contains(ChunkId id)
    {
        lock (_gate) return _entries.ContainsKey(id);
    }

    /// <summary>Copies bytes [offset, offset + destination.Length) of the chunk; false when it is not held.</summary>
    public bool TryCopy(ChunkId id, long offset, Span<byte> destination)
    {
        ReadOnlyMemory<byte> chunk;
        lock (_gate)
        {
            if (!_entries.TryGetValue(id, out var node)) return false;
            _recency.Remove(node);
            _recency.AddFirst(node);
            chunk = node.Value.Bytes;
        }
        // The bytes never change once verified, so the copy needs no lock.
        if (offset < 0 || offset + destination.Length > chunk.Length) return false;
        chunk.Span.Slice((int)offset, destination.Length).CopyTo(destination);
        return true;
    }

    public void Add(VerifiedChunk chunk) => AddVerified(chunk.Id, chunk.Bytes);

    /// <summary>
    /// Keeps bytes that were checked against <paramref name="id"/> elsewhere (the chunk store hashes what it reads
    /// whole). The caller hands the memory over: it must never change again.
    /// </summary>
    public void AddVerified(ChunkId id, ReadOnlyMemory<byte> bytes)
    {
        if (bytes.Length > _capacityBytes) return;
        lock (_gate)
        {
            if (_entries.ContainsKey(id)) return;
            _entries[id] = _recency.AddFirst((id, bytes));
            _bytes += bytes.Length;
            while (_bytes > _capacityBytes && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _entries.Remove(oldest.Value.Id);
                _bytes -= oldest.Value.Bytes.Length;
            }
        }
    }

    public void Forget(ChunkId id)
    {
        lock (_gate)
        {
            if (!_entries.Remove(id, out var node)) return;
            _recency.Remove(node);
            _bytes -= node.Value.Bytes.Length;
        }
    }
}
