using System.Buffers.Binary;

namespace DinoMesh.Transport.Framing;

/// <summary>Writes length-prefixed frames (see <see cref="FrameReader"/>), flushing each so it leaves at once.</summary>
public sealed class FrameWriter
{
    private readonly Stream _stream;
    private readonly byte[] _header = new byte[FrameReader.HeaderSize];

    public FrameWriter(Stream stream) => _stream = stream;

    /// <summary>True while a frame is partly written: the stream cannot carry anything else until it completes.</summary>
    public bool InFrame { get; private set; }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken ct)
    {
        if (frame.Length > ProtocolIds.MaxFrameBytesLimit)
        {
            throw new FrameException(FrameError.TooLarge, $"frame of {frame.Length} bytes exceeds the transport limit of {ProtocolIds.MaxFrameBytesLimit}");
        }
        BinaryPrimitives.WriteUInt32BigEndian(_header, (uint)frame.Length);
        InFrame = true;
        await _stream.WriteAsync(_header, ct);
        await _stream.WriteAsync(frame, ct);
        await _stream.FlushAsync(ct);
        InFrame = false;
    }

    /// <summary>One frame as a standalone byte array (prefix + payload), for request bodies.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> frame)
    {
        var bytes = new byte[FrameReader.HeaderSize + frame.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)frame.Length);
        frame.CopyTo(bytes.AsSpan(FrameReader.HeaderSize));
        return bytes;
    }
}
