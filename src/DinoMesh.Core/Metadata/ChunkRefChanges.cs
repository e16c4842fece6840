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
    public IReadOnlyList<ChunkId> Freed() => [.. _delta.Where(d => d.Value < 0 && !_refs.ContainsKey(d.Key)).Select(d => d.Key)];

    /// <summary>Chunks referenced now and by nothing before.</summary>
    public IReadOnlyList<ChunkId> Added() => [.. _delta.Where(d => d.Value > 0 && _refs[d.Key] == d.Value).Select(d => d.Key)];

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
