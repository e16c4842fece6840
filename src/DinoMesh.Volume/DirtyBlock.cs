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

    /// <summary>Smallest buffer a block starts with: a 4 KiB file must not cost a 1 MiB (large-object) buffer.</summary>
    private const int MinimumBuffer = 64 * 1024;

    private readonly int _size;

    public DirtyBlock(long index, int size)
    {
        Index = index;
        _size = size;
        Buffer = [];
    }

    public long Index { get; }

    public byte[] Buffer { get; private set; }

    public IReadOnlyList<(int Start, int End)> Ranges => _ranges;

    public void Write(int offset, ReadOnlySpan<byte> data)
    {
        Reserve(offset + data.Length);
        data.CopyTo(Buffer.AsSpan(offset));
        Add(offset, offset + data.Length);
    }

    /// <summary>Grows the buffer (doubling, up to the block size) so that bytes up to <paramref name="end"/> fit.</summary>
    private void Reserve(int end)
    {
        if (end <= Buffer.Length) return;
        var length = Math.Min(_size, Math.Max(MinimumBuffer, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)end)));
        var grown = ArrayPool<byte>.Shared.Rent(length);
        foreach (var (start, stop) in _ranges) Buffer.AsSpan(start, stop - start).CopyTo(grown.AsSpan(start));
        if (Buffer.Length > 0) ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = grown;
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
