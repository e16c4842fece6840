using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Volume;

/// <summary>
/// The verified bytes of chunks fetched lately, bounded by total size, least recently used out first. A fetched chunk
/// is read from here while its file on disk is too new for the store's "verified" memo (a file changed within the
/// last moments is rehashed on every read), so the reads that follow a fetch cost a copy, not a disk read and a hash.
/// <para>A chunk whose bytes lie in a pooled buffer is kept with a reference of its own on that buffer, released when
/// the chunk leaves (evicted or forgotten); a copy out takes one more for its duration, so a buffer is never given
/// back while a reader copies from it, and the bytes a reader gets are the verified ones.</para>
/// </summary>
internal sealed class RecentChunks
{
    private readonly long _capacityBytes;
    private readonly Lock _gate = new();
    private readonly Dictionary<ChunkId, LinkedListNode<Entry>> _entries = [];
    private readonly LinkedList<Entry> _recency = new();
    private long _bytes;

    public RecentChunks(long capacityBytes) => _capacityBytes = capacityBytes;

    private readonly record struct Entry(VerifiedChunk Chunk, PooledBuffer? Lease);

    public bool Contains(ChunkId id)
    {
        lock (_gate) return _entries.ContainsKey(id);
    }

    /// <summary>Copies bytes [offset, offset + destination.Length) of the chunk; false when it is not held.</summary>
    public bool TryCopy(ChunkId id, long offset, Span<byte> destination)
    {
        Entry entry;
        lock (_gate)
        {
            if (!_entries.TryGetValue(id, out var node)) return false;
            _recency.Remove(node);
            _recency.AddFirst(node);
            entry = node.Value;
            // While held here the entry's reference keeps the buffer lent, so this one cannot fail.
            entry.Lease?.Retain();
        }
        try
        {
            // The bytes never change while a reference is held, so the copy needs no lock.
            if (offset < 0 || offset + destination.Length > entry.Chunk.Length) return false;
            entry.Chunk.Bytes.Span.Slice((int)offset, destination.Length).CopyTo(destination);
            return true;
        }
        finally
        {
            entry.Lease?.Release();
        }
    }

    /// <summary>
    /// Keeps the chunk. When its bytes lie in <paramref name="lease"/>, a reference of its own is taken on it (the
    /// caller keeps, and later releases, its own); none when the chunk is not kept.
    /// </summary>
    public void Add(VerifiedChunk chunk, PooledBuffer? lease = null)
    {
        if (chunk.Length > _capacityBytes) return;
        List<PooledBuffer>? evicted = null;
        lock (_gate)
        {
            if (_entries.ContainsKey(chunk.Id)) return;
            lease?.Retain();
            _entries[chunk.Id] = _recency.AddFirst(new Entry(chunk, lease));
            _bytes += chunk.Length;
            while (_bytes > _capacityBytes && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _entries.Remove(oldest.Value.Chunk.Id);
                _bytes -= oldest.Value.Chunk.Length;
                if (oldest.Value.Lease is { } gone) (evicted ??= []).Add(gone);
            }
        }
        // Outside the lock: the last release hands the buffer to its pool, which takes a lock of its own.
        if (evicted is not null) foreach (var gone in evicted) gone.Release();
    }

    public void Forget(ChunkId id)
    {
        LinkedListNode<Entry>? node;
        lock (_gate)
        {
            if (!_entries.Remove(id, out node)) return;
            _recency.Remove(node);
            _bytes -= node.Value.Chunk.Length;
        }
        node.Value.Lease?.Release();
    }
}
