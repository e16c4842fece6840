using DinoMesh.Core.Identity;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// The peers that recently confirmed taking a copy of a chunk from this node. A streaming write pushes each chunk as
/// it is stored and commits it later: without this record the commit would push every chunk whose push had already
/// ended a second time (the second copy answered "already present", after the bytes had crossed the network and been
/// hashed again on both ends). Entries last <c>validity</c> (well inside the collection grace that keeps a pushed
/// chunk on its peer); the oldest go first past a bound.
/// </summary>
public sealed class ConfirmedCopies
{
    private const int Capacity = 65_536;

    private readonly long _validityTicks;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<ChunkId, Entry> _entries = [];
    private readonly Queue<ChunkId> _order = new();

    /// <param name="time">The clock entries age by (the system's unless a test steps one).</param>
    public ConfirmedCopies(TimeSpan validity, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _validityTicks = (long)(validity.TotalSeconds * _time.TimestampFrequency);
    }

    private sealed record Entry(PeerId[] Peers, long At);

    public int Count
    {
        get { lock (_gate) return _entries.Count; }
    }

    /// <summary>A new set holding the peers on record for the chunk (empty when none or expired).</summary>
    public HashSet<PeerId> Of(ChunkId id)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(id, out var entry) && _time.GetTimestamp() - entry.At < _validityTicks) return [.. entry.Peers];
        }
        return [];
    }

    public void Record(ChunkId id, IReadOnlyCollection<PeerId> peers)
    {
        if (peers.Count == 0) return;
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            // Expired entries at the head go first, so a node that wrote long ago keeps nothing here.
            while (_order.TryPeek(out var head) && (!_entries.TryGetValue(head, out var old) || now - old.At >= _validityTicks))
            {
                _order.Dequeue();
                _entries.Remove(head);
            }
            if (!_entries.ContainsKey(id))
            {
                while (_entries.Count >= Capacity && _order.TryDequeue(out var oldest)) _entries.Remove(oldest);
                _order.Enqueue(id);
            }
            _entries[id] = new Entry([.. peers], now);
        }
    }
}
