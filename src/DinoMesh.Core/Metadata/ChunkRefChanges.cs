using System.Collections.Immutable;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// The reference counts of chunks as one apply changes them. Local to that apply (the state stays immutable); at the
/// end it yields the new table and the chunks that lost their last reference or gained their first.
/// </summary>
internal sealed class ChunkRefChanges
{
    private readonly ImmutableDictionary<ChunkId, int>.Builder _refs;
    private readonly Dictionary<ChunkId, int> _delta = [];

    public ChunkRefChanges(ImmutableDictionary<ChunkId, int> refs) => _refs = refs.ToBuilder();

    public void Add(in Extent extent)
    {
        if (extent.Inline is not null) return;
        _refs[extent.Chunk] = _refs.GetValueOrDefault(extent.Chunk) + 1;
        _delta[extent.Chunk] = _delta.GetValueOrDefault(extent.Chunk) + 1;
    }

    public void Remove(in Extent extent)
    {
        if (extent.Inline is not null) return;
        var left = _refs.GetValueOrDefault(extent.Chunk) - 1;
        if (left <= 0) _refs.Remove(extent.Chunk);
        else _refs[extent.Chunk] = left;
        _delta[extent.Chunk] = _delta.GetValueOrDefault(extent.Chunk) - 1;
    }

    public void RemoveAll(ExtentMap extents)
    {
        foreach (var e in extents) Remove(e);
    }

    public bool Changed => _delta.Count > 0;

    public ImmutableDictionary<ChunkId, int> Refs => _refs.ToImmutable();

    /// <summary>Chunks referenced before and by nothing now.</summary>
    public IReadOnlyList<ChunkId> Freed()
    {
        // Loops, not LINQ, and nothing at all for an apply that moved no count (an inline write, most creates): this
        // runs on every apply, twice per change on the lease holder.
        if (_delta.Count == 0) return [];
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
        if (_delta.Count == 0) return [];
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
