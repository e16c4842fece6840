using DinoMesh.Core.Chunks;

namespace DinoMesh.Volume;

/// <summary>
/// The verified bytes of chunks fetched lately, bounded by total size, least recently used out first. A fetched chunk
/// is read from here while its file on disk is too new for the store's "verified" memo (a file changed within the
/// last moments is rehashed on every read), so the reads that follow a fetch cost a copy, not a disk read and a hash.
/// </summary>
internal sealed class RecentChunks
{
    private readonly long _capacityBytes;
    private readonly Lock _gate = new();
    private readonly Dictionary<ChunkId, LinkedListNode<VerifiedChunk>> _entries = [];
    private readonly LinkedList<VerifiedChunk> _recency = new();
    private long _bytes;

    public RecentChunks(long capacityBytes) => _capacityBytes = capacityBytes;

    public bool Contains(ChunkId id)
    {
        lock (_gate) return _entries.ContainsKey(id);
    }

    /// <summary>Copies bytes [offset, offset + destination.Length) of the chunk; false when it is not held.</summary>
    public bool TryCopy(ChunkId id, long offset, Span<byte> destination)
    {
        VerifiedChunk chunk;
        lock (_gate)
        {
            if (!_entries.TryGetValue(id, out var node)) return false;
            _recency.Remove(node);
            _recency.AddFirst(node);
            chunk = node.Value;
        }
        // The bytes never change once verified, so the copy needs no lock.
        if (offset < 0 || offset + destination.Length > chunk.Length) return false;
        chunk.Bytes.Span.Slice((int)offset, destination.Length).CopyTo(destination);
        return true;
    }

    public void Add(VerifiedChunk chunk)
    {
        if (chunk.Length > _capacityBytes) return;
        lock (_gate)
        {
            if (_entries.ContainsKey(chunk.Id)) return;
            _entries[chunk.Id] = _recency.AddFirst(chunk);
            _bytes += chunk.Length;
            while (_bytes > _capacityBytes && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _entries.Remove(oldest.Value.Id);
                _bytes -= oldest.Value.Length;
            }
        }
    }

    public void Forget(ChunkId id)
    {
        lock (_gate)
        {
            if (!_entries.Remove(id, out var node)) return;
            _recency.Remove(node);
            _bytes -= node.Value.Length;
        }
    }
}
