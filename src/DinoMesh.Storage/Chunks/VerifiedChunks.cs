using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Native;

namespace DinoMesh.Storage.Chunks;

/// <summary>
/// Bounded LRU of chunk files whose content was hashed and matched, keyed by chunk id and the file's identity at that
/// moment. Any later change to the file (write, truncate, replace) changes the identity, so the entry stops matching.
/// </summary>
internal sealed class VerifiedChunks
{
    private readonly int _capacity;
    private readonly Lock _gate = new();
    private readonly Dictionary<ChunkId, LinkedListNode<(ChunkId Id, FileIdentity File)>> _entries = [];
    private readonly LinkedList<(ChunkId Id, FileIdentity File)> _recency = new();

    public VerifiedChunks(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _capacity = capacity;
    }

    public int Count
    {
        get { lock (_gate) return _entries.Count; }
    }

    public bool Holds(ChunkId id, FileIdentity file)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(id, out var node) || node.Value.File != file) return false;
            _recency.Remove(node);
            _recency.AddFirst(node);
            return true;
        }
    }

    public void Add(ChunkId id, FileIdentity file)
    {
        if (_capacity == 0) return;
        lock (_gate)
        {
            if (_entries.Remove(id, out var old)) _recency.Remove(old);
            _entries[id] = _recency.AddFirst((id, file));
            if (_entries.Count > _capacity)
            {
                var last = _recency.Last!;
                _recency.RemoveLast();
                _entries.Remove(last.Value.Id);
            }
        }
    }

    public void Forget(ChunkId id)
    {
        lock (_gate)
        {
            if (_entries.Remove(id, out var node)) _recency.Remove(node);
        }
    }
}
