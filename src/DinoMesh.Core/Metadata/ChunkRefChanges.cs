using System.Collections.Immutable;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// The reference counts of chunks as one apply changes them. Local to that apply (the state stays immutable); at the
/// end it yields the new table and the chunks that lost their last reference or gained their first.
/// </summary>
internal sealed class ChunkRefChanges(ImmutableDictionary<ChunkId, int> refs)
{
    // Made at the first count that moves: an inline write, the usual small one, moves none, and the builder and the
    // delta table were most of what its apply allocated besides the tree's own nodes.
    private ImmutableDictionary<ChunkId, int>.Builder? _refs;
    private Dictionary<ChunkId, int>? _delta;

    public void Add(in Extent extent)
    {
        if (extent.Inline is not null) return;
        var (table, delta) = Tables();
        table[extent.Chunk] = table.GetValueOrDefault(extent.Chunk) + 1;
        delta[extent.Chunk] = delta.GetValueOrDefault(extent.Chunk) + 1;
    }

    public void Remove(in Extent extent)
    {
        if (extent.Inline is not null) return;
        var (table, delta) = Tables();
        var left = table.GetValueOrDefault(extent.Chunk) - 1;
        if (left <= 0) table.Remove(extent.Chunk);
        else table[extent.Chunk] = left;
        delta[extent.Chunk] = delta.GetValueOrDefault(extent.Chunk) - 1;
    }

    private (ImmutableDictionary<ChunkId, int>.Builder, Dictionary<ChunkId, int>) Tables() => (_refs ??= refs.ToBuilder(), _delta ??= []);

    public void RemoveAll(ExtentMap extents)
    {
        foreach (var e in extents) Remove(e);
    }

    public bool Changed => _delta is { Count: > 0 };

    public ImmutableDictionary<ChunkId, int> Refs => _refs?.ToImmutable() ?? refs;

    /// <summary>Chunks referenced before and by nothing now.</summary>
    public IReadOnlyList<ChunkId> Freed()
    {
        // Loops, not LINQ, and nothing at all for an apply that moved no count (an inline write, most creates): this
        // runs on every apply, twice per change on the lease holder.
        if (_delta is not { Count: > 0 } || _refs is null) return [];
        List<ChunkId>? freed = null;
        foreach (var (chunk, delta) in _delta)
        {
            if (delta < 0 && !_refs.ContainsKey(chunk)) (freed ??= []).Add(chunk);
        }
        return freed is null ? [] : freed;
    }

    /// <summary>Chunks referenced now and by nothing before.</summary>
    public IReadOnlyList<ChunkId> Added()
    {
        if (_delta is not { Count: > 0 } || _refs is null) return [];
        List<ChunkId>? added = null;
        foreach (var (chunk, delta) in _delta)
        {
            if (delta > 0 && _refs[chunk] == delta) (added ??= []).Add(chunk);
        }
        return added is null ? [] : added;
    }

    /// <summary>The counts a tree implies, from scratch (a snapshot carries no counts).</summary>
    public static ImmutableDictionary<ChunkId, int> Count(IEnumerable<Inode> inodes)
    {
        var counts = new Dictionary<ChunkId, int>();
        foreach (var inode in inodes)
        {
            foreach (var e in inode.Extents)
            {
                if (e.Inline is null) counts[e.Chunk] = counts.GetValueOrDefault(e.Chunk) + 1;
            }
        }
        return counts.ToImmutableDictionary();
    }
}
