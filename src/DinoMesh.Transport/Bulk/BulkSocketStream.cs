using System.Net.Sockets;

namespace DinoMesh.Transport.Bulk;

/// <summary>
/// The stream under a bulk or lean connection's TLS, at both ends: a <see cref="NetworkStream"/> that receives up to
/// <see cref="ReceiveBytes"/> (or what the constructor is given) per <c>recv</c> and answers a zero-byte read at once. Over a bare socket stream the TLS
/// stream asks for one record at a time (16,406 bytes: a <c>recv</c> per 16 KiB), and before each it makes a
/// zero-byte read to wait for data without holding a buffer, which this runtime makes on Linux as a one-byte
/// <c>recv(MSG_PEEK)</c>: two system calls per 16 KiB. Here a megabyte arrives in about 16 <c>recv</c>s, for one
/// copy out of this stream's buffer. The price is the buffer (64 KiB per open bulk connection, and the TLS stream's
/// own while it waits) on connections that live only as long as chunk calls keep them busy. A lean connection (one per
/// peer, kept open, small messages) asks for <see cref="LeanReceiveBytes"/>: its gain is the missing peek, one system
/// call of the two per received message.
/// </summary>
internal sealed class BulkSocketStream : Stream
{
    /// <summary>The most one receive asks the kernel for.</summary>
    public const int ReceiveBytes = 64 * 1024;

    /// <summary>The most one receive of a lean connection asks for: a TLS record and a little.</summary>
    public const int LeanReceiveBytes = 17 * 1024;

    private readonly NetworkStream _socket;
    // Not pooled: a read still under way when the stream is disposed must not land in an array someone else rented.
    private readonly byte[] _buffer;
    private int _start;
    private int _end;

    public BulkSocketStream(Socket socket, int receiveBytes = ReceiveBytes)
    {
        _socket = new NetworkStream(socket, ownsSocket: true);
        _buffer = new byte[receiveBytes];
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_start == _end)
        {
            // Nothing buffered. A zero-byte read only asks whether to go on reading: yes (the caller's real read waits).
            if (destination.Length == 0) return 0;
            // A read as large as the buffer goes straight into the caller's memory: no copy to save a call over.
            if (destination.Length >= _buffer.Length) return await _socket.ReadAsync(destination, cancellationToken);
            var received = await _socket.ReadAsync(_buffer, cancellationToken);
            if (received == 0) return 0;
            _start = 0;
            _end = received;
        }
        var n = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, n).CopyTo(destination.Span);
        _start += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

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
