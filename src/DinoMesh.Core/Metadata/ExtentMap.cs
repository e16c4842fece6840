using System.Collections;
using System.Collections.Immutable;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// Where a regular file's bytes live: non-overlapping extents sorted by offset. Anything not covered is a hole and
/// reads as zeros. Immutable: every change returns a new map sharing structure with the old one, so a reader holding
/// an older state keeps a consistent view while commits go on.
/// </summary>
public sealed class ExtentMap : IEnumerable<Extent>
{
    public static readonly ExtentMap Empty = new(ImmutableList<Extent>.Empty, 0);

    private readonly ImmutableList<Extent> _extents;

    private ExtentMap(ImmutableList<Extent> extents, long allocatedBytes)
    {
        _extents = extents;
        AllocatedBytes = allocatedBytes;
    }

    public int Count => _extents.Count;

    /// <summary>Bytes backed by chunks (what st_blocks reports).</summary>
    public long AllocatedBytes { get; }

    /// <summary>Lays <paramref name="extent"/> over the map: whatever it overlaps is cut away.</summary>
    public ExtentMap Write(Extent extent) => Write(extent, null);

    /// <summary>As <see cref="Write(Extent)"/>, counting the chunk references it drops and adds.</summary>
    internal ExtentMap Write(Extent extent, ChunkRefChanges? refs) => extent.Length <= 0 ? this : Replace(extent.Offset, extent.End, extent, refs);

    /// <summary>Makes [<paramref name="from"/>, <paramref name="to"/>) a hole: whatever it overlaps is cut away.</summary>
    public ExtentMap Punch(long from, long to) => Punch(from, to, null);

    internal ExtentMap Punch(long from, long to, ChunkRefChanges? refs) => to <= from ? this : Replace(from, to, null, refs);

    /// <summary>Cuts [from, to) out of the map and puts <paramref name="extent"/> (covering exactly that range) there, if any.</summary>
    private ExtentMap Replace(long from, long to, Extent? extent, ChunkRefChanges? refs)
    {
        var index = FirstEndingAfter(from);
        if (index >= _extents.Count || _extents[index].Offset >= to)
        {
            // Nothing overlaps (a first write, an append past the end): one insert, without the builder, the list of
            // pieces and its sort, which made a small file's write apply about 450 bytes instead of about 170.
            if (extent is not { } only) return this;
            refs?.Add(only);
            return new ExtentMap(_extents.Insert(index, only), AllocatedBytes + only.Length);
        }
        var builder = _extents.ToBuilder();
        var allocated = AllocatedBytes;
        var replaced = new List<Extent>(3);
        while (index < builder.Count && builder[index].Offset < to)
        {
            var old = builder[index];
            allocated -= old.Length;
            refs?.Remove(old);
            if (old.Offset < from) replaced.Add(old.Clip(old.Offset, from)!.Value);
            if (old.End > to) replaced.Add(old.Clip(to, old.End)!.Value);
            builder.RemoveAt(index);
        }
        if (extent is { } e) replaced.Add(e);
        replaced.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        foreach (var piece in replaced)
        {
            allocated += piece.Length;
            refs?.Add(piece);
        }
        builder.InsertRange(index, replaced);
        return new ExtentMap(builder.ToImmutable(), allocated);
    }

    /// <summary>Drops everything at or past <paramref name="size"/>.</summary>
    public ExtentMap Truncate(long size) => Truncate(size, null);

    internal ExtentMap Truncate(long size, ChunkRefChanges? refs)
    {
        var index = FirstEndingAfter(size);
        if (index >= _extents.Count) return this;
        var builder = _extents.ToBuilder();
        var allocated = AllocatedBytes;
        var first = builder[index];
        if (first.Offset < size)
        {
            allocated -= first.End - size;
            builder[index] = first.Clip(first.Offset, size)!.Value;
            index++;
        }
        while (builder.Count > index)
        {
            allocated -= builder[^1].Length;
            refs?.Remove(builder[^1]);
            builder.RemoveAt(builder.Count - 1);
        }
        return new ExtentMap(builder.ToImmutable(), allocated);
    }

    /// <summary>The extents overlapping [from, to), clipped to it, in offset order. Gaps between them are holes.</summary>
    public IEnumerable<Extent> Overlapping(long from, long to)
    {
        for (var i = FirstEndingAfter(from); i < _extents.Count && _extents[i].Offset < to; i++)
        {
            yield return _extents[i].Clip(from, to)!.Value;
        }
    }

    /// <summary>The extents overlapping [from, to) as they are stored (not clipped), in offset order.</summary>
    public IEnumerable<Extent> Touching(long from, long to)
    {
        for (var i = FirstEndingAfter(from); i < _extents.Count && _extents[i].Offset < to; i++) yield return _extents[i];
    }

    /// <summary>
    /// True when <paramref name="extents"/>, in offset order, cover [<paramref name="from"/>, <paramref name="to"/>)
    /// exactly: the first starts at <paramref name="from"/>, each starts where the one before ends, the last ends at
    /// <paramref name="to"/> (no hole, nothing reaching outside).
    /// </summary>
    public static bool Tiles(IEnumerable<Extent> extents, long from, long to)
    {
        var position = from;
        foreach (var x in extents)
        {
            if (x.Offset != position) return false;
            position = x.End;
        }
        return position == to;
    }

    /// <summary>
    /// How many extents <see cref="Touching"/> would give for [from, to), by two binary searches: no allocation and no
    /// walk of the extents, so a commit on the small-file path can ask it (the compactor's enqueue gate).
    /// </summary>
    public int CountTouching(long from, long to) => Math.Max(0, FirstStartingAtOrAfter(to) - FirstEndingAfter(from));

    /// <summary>First data at or after <paramref name="offset"/> (SEEK_DATA), or -1 when only holes follow.</summary>
    public long NextData(long offset)
    {
        var i = FirstEndingAfter(offset);
        return i < _extents.Count ? Math.Max(offset, _extents[i].Offset) : -1;
    }

    /// <summary>First hole at or after <paramref name="offset"/> (SEEK_HOLE); the file's end counts as a hole.</summary>
    public long NextHole(long offset, long size)
    {
        var position = offset;
        for (var i = FirstEndingAfter(offset); i < _extents.Count; i++)
        {
            if (_extents[i].Offset > position) return position;
            position = _extents[i].End;
        }
        return Math.Min(Math.Max(position, offset), size);
    }

    /// <summary>Index of the first extent whose end lies after <paramref name="offset"/>.</summary>
    private int FirstEndingAfter(long offset)
    {
        int lo = 0, hi = _extents.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_extents[mid].End <= offset) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Index of the first extent starting at or after <paramref name="offset"/> (extents do not overlap, so starts are sorted too).</summary>
    private int FirstStartingAtOrAfter(long offset)
    {
        int lo = 0, hi = _extents.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_extents[mid].Offset < offset) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    public static ExtentMap FromSorted(IEnumerable<Extent> extents)
    {
        var list = ImmutableList.CreateRange(extents);
        return new ExtentMap(list, list.Sum(e => e.Length));
    }

    public IEnumerator<Extent> GetEnumerator() => _extents.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
