using DinoMesh.Core.Buffers;

namespace DinoMesh.Volume;

/// <summary>
/// One chunk-aligned block of a file with bytes written but not yet turned into a chunk. The buffer comes from the
/// shared pool and goes back when the block is sealed; <see cref="Ranges"/> says which bytes were actually written
/// (only those become extents, so an unwritten part keeps whatever the committed file has there).
/// <para>The bytes lie <see cref="Room"/> bytes into the array: a range that starts at the block's start is lent to the
/// replicator as it lies (<see cref="Lend"/>), which writes the put's envelope into that room and keeps the array until
/// the push ended, instead of copying the megabyte. Nothing writes the block's bytes once it is sealed.</para>
/// </summary>
internal sealed class DirtyBlock : IDisposable
{
    private readonly List<(int Start, int End)> _ranges = new(2);

    /// <summary>Smallest buffer a block starts with: a 4 KiB file must not cost a 1 MiB (large-object) buffer.</summary>
    private const int MinimumBuffer = 64 * 1024;

    /// <summary>Free bytes in front of the block's bytes: more than any chunk put's envelope (ChunkCodec.PutEnvelope, 42 bytes).</summary>
    public const int Room = 64;

    private readonly int _size;
    private SharedArray? _array;

    public DirtyBlock(long index, int size)
    {
        Index = index;
        _size = size;
    }

    public long Index { get; }

    /// <summary>Bytes the buffer holds now (0 before the first write).</summary>
    private int Capacity => _array is null ? 0 : _array.Array.Length - Room;

    /// <summary>The block's bytes from <paramref name="start"/> on, <paramref name="length"/> of them.</summary>
    public Span<byte> Bytes(int start, int length) => _array is null ? Span<byte>.Empty[..length] : _array.Array.AsSpan(Room + start, length);

    /// <summary>
    /// The range from the block's start, lendable past the seal, with the room in front free; null for any other range
    /// (the bytes in front of it are the block's own).
    /// </summary>
    public LendableBytes? Lend(int start, int end) => start == 0 && _array is not null ? new LendableBytes(_array, Room, end) : null;

    public IReadOnlyList<(int Start, int End)> Ranges => _ranges;

    public void Write(int offset, ReadOnlySpan<byte> data)
    {
        Reserve(offset + data.Length);
        data.CopyTo(Bytes(offset, data.Length));
        Add(offset, offset + data.Length);
    }

    /// <summary>Grows the buffer (doubling, up to the block size) so that bytes up to <paramref name="end"/> fit.</summary>
    private void Reserve(int end)
    {
        if (end <= Capacity) return;
        // The pool hands out powers of two: the room is taken from the array, not added to it (64 KiB + 64 bytes would
        // take a 128 KiB array). Only a whole block needs more than a power of two.
        var array = Math.Max(MinimumBuffer, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(end + Room)));
        var length = Math.Min(_size, array - Room);
        var grown = SharedArray.Rent(Room + length);
        foreach (var (start, stop) in _ranges) Bytes(start, stop - start).CopyTo(grown.Array.AsSpan(Room + start));
        _array?.Release();
        _array = grown;
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
        // The block's own reference; a push that borrowed the array keeps it until the push ended.
        _array?.Release();
        _array = null;
    }
}
