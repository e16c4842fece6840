using System.Buffers;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> that hands what is written to a <see cref="Stream"/> a bounded piece at a time, so
/// an encoding of any size never sits in memory whole (a snapshot of a large tree is several GiB, past any array). The
/// one buffer grows only when a single write asks for more than it holds (a long string), and is returned to the pool
/// on <see cref="Dispose"/>.
/// </summary>
internal sealed class SpillingBufferWriter : IBufferWriter<byte>, IDisposable
{
    /// <summary>1 MiB: large enough that the stream sees few writes, small enough not to matter in memory.</summary>
    public const int DefaultPieceSize = 1 << 20;

    private readonly Stream _destination;
    private byte[] _buffer;
    private int _used;

    public SpillingBufferWriter(Stream destination, int pieceSize = DefaultPieceSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pieceSize);
        _destination = destination;
        _buffer = ArrayPool<byte>.Shared.Rent(pieceSize);
    }

    /// <summary>Bytes handed to the stream so far (<see cref="Flush"/> first for the total).</summary>
    public long Spilled { get; private set; }

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _used)) throw new ArgumentOutOfRangeException(nameof(count));
        _used += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        // Room first: it may replace the buffer.
        var at = Room(sizeHint);
        return _buffer.AsMemory(at);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        var at = Room(sizeHint);
        return _buffer.AsSpan(at);
    }

    /// <summary>Writes what is buffered to the stream.</summary>
    public void Flush()
    {
        if (_used == 0) return;
        _destination.Write(_buffer, 0, _used);
        Spilled += _used;
        _used = 0;
    }

    /// <summary>Where the next write goes, with at least <paramref name="sizeHint"/> bytes (at least one) free after it.</summary>
    private int Room(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _used >= needed) return _used;
        Flush();
        if (_buffer.Length < needed)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(needed);
        }
        return 0;
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }
}
