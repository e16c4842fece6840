using System.Buffers;

namespace DinoMesh.Volume;

/// <summary>
/// One chunk-aligned block of a file with bytes written but not yet turned into a chunk. The buffer comes from the
/// shared pool and goes back when the block is sealed; <see cref="Ranges"/> says which bytes were actually written
/// (only those become extents, so an unwritten part keeps whatever the committed file has there).
/// </summary>
internal sealed class DirtyBlock : IDisposable
{
    private readonly List<(int Start, int End)> _ranges = new(2);

    public DirtyBlock(long index, int size)
    {
        Index = index;
        Buffer = ArrayPool<byte>.Shared.Rent(size);
    }

    public long Index { get; }

    public byte[] Buffer { get; private set; }

    public IReadOnlyList<(int Start, int End)> Ranges => _ranges;

    public void Write(int offset, ReadOnlySpan<byte> data)
    {
        data.CopyTo(Buffer.AsSpan(offset));
        Add(offset, offset + data.Length);
    }

    public bool Covers(int size) => _ranges.Count == 1 && _ranges[0].Start == 0 && _ranges[0].End >= size;

    /// <summary>Drops everything at or past <paramref name="end"/> (truncate inside the block).</summary>
    public void CutAt(int end)
    {
        for (var i = _ranges.Count - 1; i >= 0; i--)
        {
            var (s, e) = _ranges[i];
            if (s >= end) _ranges.RemoveAt(i);
            else if (e > end) _ranges[i] = (s, end);
        }
    }

    public bool IsEmpty => _ranges.Count == 0;

    private void Add(int start, int end)
    {
        // Ranges stay sorted and merged; sequential writes keep exactly one.
        var i = 0;
        while (i < _ranges.Count && _ranges[i].End < start) i++;
        var newStart = start;
        var newEnd = end;
        while (i < _ranges.Count && _ranges[i].Start <= end)
        {
            newStart = Math.Min(newStart, _ranges[i].Start);
            newEnd = Math.Max(newEnd, _ranges[i].End);
            _ranges.RemoveAt(i);
        }
        _ranges.Insert(i, (newStart, newEnd));
    }

    public void Dispose()
    {
        if (Buffer.Length > 0) ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = [];
    }
}
