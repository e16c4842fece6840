using System.Net.Sockets;

namespace DinoMesh.Transport.Lean;

/// <summary>
/// The stream under a lean connection's TLS when a thread of its own reads the connection (<see cref="DedicatedReaders"/>):
/// every operation is a blocking system call on a socket that never sees an asynchronous operation, so the runtime never
/// makes it non-blocking nor registers it with its epoll thread. A message that arrives then wakes exactly one thread,
/// the one blocked in <c>recv</c>, instead of the epoll thread and then a thread-pool worker it hands the completion to
/// (about half of a commit's context switches on a lease holder: docs/benchmarks.md). The asynchronous methods are the
/// blocking ones with a completed task, so the TLS stream and the pipe above them never leave the reading thread
/// (until <see cref="GoAsynchronous"/>, for a connection handed to the asynchronous path).
/// <para>Such a read cannot be cancelled by a token. <see cref="Interrupt"/> asks the reader to give up at its next
/// <see cref="Tick"/> (the socket's receive timeout) when no byte is buffered; disposing the stream ends every blocked
/// call at once (on Linux, closing a socket unblocks its callers).</para>
/// </summary>
internal sealed class DedicatedSocketStream : Stream
{
    /// <summary>How often a blocked read looks whether it was interrupted: the delay of a goaway on an idle connection.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    /// <summary>The longest a send may block (the peer reads nothing): past it the connection is given up, not held.</summary>
    public static readonly TimeSpan SendBound = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    // Not pooled: a read still under way when the stream is disposed must not land in an array someone else rented.
    private readonly byte[] _buffer;
    private int _start;
    private int _end;
    private volatile bool _interrupted;
    private int _disposed;

    /// <param name="socket">A connected socket on which nothing asynchronous was ever done (see <see cref="IsUnregistered"/>).</param>
    public DedicatedSocketStream(Socket socket, int receiveBytes = Bulk.BulkSocketStream.LeanReceiveBytes)
    {
        _socket = socket;
        _buffer = new byte[receiveBytes];
        _socket.SendTimeout = (int)SendBound.TotalMilliseconds;
    }

    /// <summary>
    /// True while the runtime has not made <paramref name="socket"/> non-blocking, which it does (and registers the
    /// socket with its epoll thread, for good) at the first asynchronous operation. Only such a socket is worth a thread.
    /// </summary>
    public static bool IsUnregistered(Socket socket)
    {
        try
        {
            return socket.Blocking && (Fcntl(socket) & ONonBlock) == 0;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private const int FGetFl = 3;
    private const int ONonBlock = 0x800; // Linux

    private static int Fcntl(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return ONonBlock;
        var flags = FcntlGet(checked((int)socket.Handle), FGetFl);
        return flags < 0 ? ONonBlock : flags;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static extern int FcntlGet(int fd, int command);

    /// <summary>Bounds each wait of a read: <paramref name="bound"/> during a handshake, <see cref="Tick"/> after it.</summary>
    public void BoundReceives(TimeSpan bound) => _socket.ReceiveTimeout = (int)Math.Max(1, bound.TotalMilliseconds);

    /// <summary>Each wait of a read lasts until bytes come or the socket closes (a reader nobody needs to stop otherwise).</summary>
    public void UnboundReceives() => _socket.ReceiveTimeout = 0;

    /// <summary>The reader gives up (<see cref="OperationCanceledException"/>) at its next wait with nothing buffered.</summary>
    public void Interrupt() => _interrupted = true;

    public bool Interrupted => _interrupted;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(Span<byte> destination)
    {
        if (_start == _end)
        {
            // A zero-byte read only asks whether to go on reading: yes (the caller's real read waits).
            if (destination.Length == 0) return 0;
            var received = Receive(_buffer);
            if (received == 0) return 0;
            _start = 0;
            _end = received;
        }
        var n = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, n).CopyTo(destination);
        _start += n;
        return n;
    }

    private int Receive(Span<byte> into)
    {
        while (true)
        {
            if (_interrupted) throw new OperationCanceledException("the connection's reader was interrupted");
            var received = _socket.Receive(into, SocketFlags.None, out var error);
            if (error == SocketError.Success) return received;
            // The receive timeout: a tick to look at the interruption, or a handshake that took too long.
            if (error is SocketError.TimedOut or SocketError.WouldBlock && !_handshaking) continue;
            throw new IOException($"receive failed: {error}", new SocketException((int)error));
        }
    }

    private volatile bool _handshaking;

    /// <summary>While set, a receive that waits out its bound fails (the handshake's deadline) instead of waiting on.</summary>
    public bool Handshaking
    {
        get => _handshaking;
        set => _handshaking = value;
    }

    /// <summary>Reads and drops whatever the peer still sends until it hangs up or <paramref name="bound"/> passes.</summary>
    public void Drain(TimeSpan bound)
    {
        var until = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(bound.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        try
        {
            BoundReceives(TimeSpan.FromMilliseconds(100));
            while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
            {
                var received = _socket.Receive(_buffer, SocketFlags.None, out var error);
                if (error is SocketError.TimedOut or SocketError.WouldBlock) continue;
                if (error != SocketError.Success || received == 0) return;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    private volatile bool _asynchronous;

    /// <summary>
    /// From now on the asynchronous methods are truly asynchronous (the socket's own, which make it non-blocking and
    /// register it with the runtime's epoll thread for good), for a connection no thread of its own reads any more: one
    /// whose admission check had to wait, or that is refused (<c>DirectConnections</c>), so that the wait or the
    /// refusal's drain holds no thread. Bytes already buffered are read first. One way; the owner calls it while no
    /// operation is under way.
    /// </summary>
    public void GoAsynchronous() => _asynchronous = true;

    public override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default) =>
        _asynchronous && _start == _end && destination.Length > 0
            ? _socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken)
            : ValueTask.FromResult(Read(destination.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            var sent = _socket.Send(source, SocketFlags.None, out var error);
            if (error != SocketError.Success) throw new IOException($"send failed: {error}", new SocketException((int)error));
            source = source[sent..];
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        if (_asynchronous) return SendAsync(source, cancellationToken);
        Write(source.Span);
        return ValueTask.CompletedTask;
    }

    private async ValueTask SendAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        while (!source.IsEmpty)
        {
            var sent = await _socket.SendAsync(source, SocketFlags.None, cancellationToken);
            source = source[sent..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0) _socket.Dispose();
        base.Dispose(disposing);
    }
}
