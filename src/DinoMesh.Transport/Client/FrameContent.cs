using System.Buffers.Binary;
using System.Net;
using DinoMesh.Transport.Framing;

namespace DinoMesh.Transport.Client;

/// <summary>
/// A unary request body: one frame (length prefix, then the message), written from the caller's bytes as they are. The
/// prefix goes out on its own rather than in front of a copy of the message: for a chunk that copy is a MiB.
/// </summary>
internal sealed class FrameContent : HttpContent
{
    private readonly ReadOnlyMemory<byte> _message;

    public FrameContent(ReadOnlyMemory<byte> message)
    {
        _message = message;
        Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(WireHeaders.ContentType);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var prefix = new byte[FrameReader.HeaderSize];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, (uint)_message.Length);
        await stream.WriteAsync(prefix, cancellationToken);
        await stream.WriteAsync(_message, cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = FrameReader.HeaderSize + _message.Length;
        return true;
    }
}
