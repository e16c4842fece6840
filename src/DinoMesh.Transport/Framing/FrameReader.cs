using System.Buffers.Binary;

namespace DinoMesh.Transport.Framing;

/// <summary>
/// Reads length-prefixed frames (4-byte big-endian length, then that many bytes: one MessagePack message) from a stream.
/// The bound is checked on the prefix, before any payload is read or buffered.
/// </summary>
public sealed class FrameReader
{
    public const int HeaderSize = 4;

    private readonly Stream _stream;
    private readonly byte[] _header = new byte[HeaderSize];
    private byte[] _buffer = [];

    public FrameReader(Stream stream, int maxFrameBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxFrameBytes);
        _stream = stream;
        MaxFrameBytes = maxFrameBytes;
    }

    public int MaxFrameBytes { get; }

    /// <summary>The last frame read; valid until the next <see cref="ReadAsync"/>.</summary>
    public ReadOnlyMemory<byte> Current { get; private set; }

    /// <summary>Number of frames read so far.</summary>
    public long Count { get; private set; }

    /// <summary>
    /// Reads the next frame into <see cref="Current"/>. Returns false when the stream ends cleanly between frames;
    /// throws <see cref="FrameException"/> when it ends inside one or a prefix exceeds <see cref="MaxFrameBytes"/>.
    /// </summary>
    public async ValueTask<bool> ReadAsync(CancellationToken ct)
    {
        var got = await ReadFullyAsync(_header, ct);
        if (got == 0) return false;
        if (got < HeaderSize) throw new FrameException(FrameError.Truncated, $"stream ended inside a frame header ({got} of {HeaderSize} bytes)");

        var length = BinaryPrimitives.ReadUInt32BigEndian(_header);
        if (length > (uint)MaxFrameBytes)
        {
            throw new FrameException(FrameError.TooLarge, $"frame of {length} bytes exceeds the bound of {MaxFrameBytes}");
        }
        if (_buffer.Length < length) _buffer = new byte[Math.Max(length, Math.Min(MaxFrameBytes, _buffer.Length * 2))];
        var payload = _buffer.AsMemory(0, (int)length);
        got = await ReadFullyAsync(payload, ct);
        if (got < length) throw new FrameException(FrameError.Truncated, $"stream ended inside a frame ({got} of {length} bytes)");
        Current = payload;
        Count++;
        return true;
    }

    /// <summary>Reads exactly one frame and requires the stream to end after it (a unary message).</summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReadSingleAsync(CancellationToken ct)
    {
        if (!await ReadAsync(ct)) throw new FrameException(FrameError.Truncated, "expected one frame, the stream was empty");
        var single = Current;
        var extra = await ReadFullyAsync(_header.AsMemory(0, 1), ct);
        if (extra != 0) throw new FrameException(FrameError.Unexpected, "expected exactly one frame, found more data after it");
        return single;
    }

    private async ValueTask<int> ReadFullyAsync(Memory<byte> target, CancellationToken ct)
    {
        var total = 0;
        while (total < target.Length)
        {
            var n = await _stream.ReadAsync(target[total..], ct);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
