using System.Net.Sockets;

namespace DinoMesh.Load.Micro;

/// <summary>
/// The <c>direct</c> variant of <see cref="TlsLinkCost"/>: what bulk connections' <c>BulkSocketStream</c> would be
/// without its receive buffer. Every read goes straight into the caller's memory (for a TLS stream, one record's
/// 16,406 bytes per <c>recv</c>, no copy out of a buffer of ours) and a zero-byte read answers at once (no peek), as
/// <c>BulkSocketStream</c> does. Tried as the way to drop that copy (docs/benchmarks.md, issue 10), not kept.
/// </summary>
internal sealed class StraightSocketStream(Socket socket) : Stream
{
    private readonly NetworkStream _socket = new(socket, ownsSocket: true);

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default) =>
        destination.Length == 0 ? ValueTask.FromResult(0) : _socket.ReadAsync(destination, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => count == 0 ? 0 : _socket.Read(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) => _socket.WriteAsync(source, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _socket.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => _socket.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _socket.Dispose();
        base.Dispose(disposing);
    }
}
