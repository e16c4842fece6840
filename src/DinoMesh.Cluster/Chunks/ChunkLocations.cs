using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Hints about who holds a chunk beyond its placement: the node that proposed the commit that introduced it (it wrote
/// the chunk, so it is asked first), and peers seen holding it (they served it, or took a copy from this node). Hints
/// only — a fetch verifies what it gets and falls back to asking everyone. Bounded: the oldest hints are forgotten
/// first (placement finds older chunks).
/// </summary>
public sealed class ChunkLocations
{
    private const int MaxHoldersPerChunk = 4;

    private readonly int _capacity;
    private readonly Lock _gate = new();
    private readonly Dictionary<ChunkId, Hint> _hints = [];
    private readonly Queue<ChunkId> _order = new();

    public ChunkLocations(int capacity = 262_144) => _capacity = capacity;

    private sealed class Hint
    {
        public PeerId Proposer;
        public readonly List<PeerId> Holders = [];
    }

    public int Count
    {
        get { lock (_gate) return _hints.Count; }
    }

    /// <summary>A committed mutation introduced the chunk; its proposer holds it.</summary>
    public void Proposed(ChunkId id, PeerId proposer)
    {
        if (proposer.IsEmpty) return;
        lock (_gate) HintFor(id).Proposer = proposer;
    }

    /// <summary>A peer was seen holding the chunk.</summary>
    public void Holds(ChunkId id, PeerId peer)
    {
        lock (_gate)
        {
            var holders = HintFor(id).Holders;
            if (holders.Contains(peer)) return;
            if (holders.Count == MaxHoldersPerChunk) holders.RemoveAt(0);
            holders.Add(peer);
        }
    }

    /// <summary>The peer turned out not to hold the chunk (or to serve bad bytes of it).</summary>
    public void DoesNotHold(ChunkId id, PeerId peer)
    {
        lock (_gate)
        {
            if (!_hints.TryGetValue(id, out var hint)) return;
            hint.Holders.Remove(peer);
            if (hint.Proposer == peer) hint.Proposer = default;
        }
    }

    public PeerId ProposerOf(ChunkId id)
    {
        lock (_gate) return _hints.TryGetValue(id, out var hint) ? hint.Proposer : default;
    }

    public PeerId[] HoldersOf(ChunkId id)
    {
        lock (_gate) return _hints.TryGetValue(id, out var hint) ? [.. hint.Holders] : [];
    }

    private Hint HintFor(ChunkId id)
    {
        if (_hints.TryGetValue(id, out var hint)) return hint;
        while (_hints.Count >= _capacity && _order.TryDequeue(out var oldest)) _hints.Remove(oldest);
        hint = new Hint();
        _hints[id] = hint;
        _order.Enqueue(id);
        return hint;
    }
}
