using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using DinoMesh.Fuse.Protocol;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Fuse.Session;

/// <summary>
/// Turns request messages into filesystem calls and replies. It does no reading itself: the session's reader threads
/// (or a test) hand it one message at a time, and it writes each reply as one message on the device.
/// Dispatch goes through <see cref="Operation"/>, a table indexed by opcode. A handler exception becomes EIO in
/// exactly one place (<see cref="Fail"/>).
/// </summary>
internal sealed partial class FuseDispatcher(IFuseFileSystem fs, IFuseDevice device, FuseMountOptions options, ILogger logger)
{
    private readonly ConcurrentDictionary<ulong, CancellationTokenSource> _inFlight = new();
    private FuseConnectionInfo? _connection;
    private int _destroyed;

    /// <summary>Set once INIT has been answered; carries what was negotiated.</summary>
    public FuseConnectionInfo? Connection => Volatile.Read(ref _connection);

    /// <summary>Raised on the reader thread right after the INIT reply was written.</summary>
    public event Action<FuseConnectionInfo>? Initialized;

    /// <summary>Raised when the kernel sent DESTROY (the session is about to end).</summary>
    public event Action? Destroyed;

    public IFuseFileSystem FileSystem => fs;

    public IFuseDevice Device => device;

    /// <summary>Requests whose handler has started and not yet replied.</summary>
    public int InFlightCount => _inFlight.Count;

    /// <summary>
    /// Handles one message (header + arguments). The returned task completes when the reply has been written;
    /// <paramref name="message"/> must stay untouched until then. Never throws.
    /// </summary>
    public ValueTask DispatchAsync(ReadOnlyMemory<byte> message)
    {
        if (message.Length < Wire.InHeaderSize)
        {
            logger.LogWarning("FUSE: dropped a {Length}-byte message shorter than the request header", message.Length);
            return default;
        }
        var header = Wire.Read<FuseInHeader>(message.Span);
        int end = Math.Min((int)header.Len, message.Length) - header.TotalExtLen * 8;
        var args = end > Wire.InHeaderSize ? message[Wire.InHeaderSize..end] : ReadOnlyMemory<byte>.Empty;
        var operation = Operation(header.Opcode);
        if (logger.IsEnabled(LogLevel.Trace)) logger.LogTrace("FUSE {Operation} #{Unique} inode {Ino}", operation.Name, header.Unique, header.NodeId);

        if (!operation.Replies)
        {
            // FORGET, BATCH_FORGET and INTERRUPT: nothing can be answered, so nothing is tracked.
            var none = new FuseRequest(header, args, CancellationToken.None);
            try
            {
                return operation.Handler(this, none);
            }
            catch (Exception e)
            {
                logger.LogError(e, "FUSE {Operation}: handler failed (no reply is sent for this opcode)", operation.Name);
                return default;
            }
        }

        var cancellation = new CancellationTokenSource();
        var request = new FuseRequest(header, args, cancellation.Token) { Source = cancellation };
        _inFlight[header.Unique] = cancellation;
        ValueTask pending;
        try
        {
            if (Connection is null && request.Opcode != FuseOpcode.Init)
            {
                Reply(request, Errno.EIO);
                pending = default;
            }
            else
            {
                pending = operation.Handler(this, request);
            }
        }
        catch (Exception e)
        {
            Fail(request, e);
            Finish(request);
            return default;
        }
        if (pending.IsCompletedSuccessfully)
        {
            Finish(request);
            return default;
        }
        return CompleteAsync(pending, request);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CompleteAsync(ValueTask pending, FuseRequest request)
    {
        try
        {
            await pending;
        }
        catch (Exception e)
        {
            Fail(request, e);
        }
        Finish(request);
    }

    /// <summary>The one place a handler failure becomes an errno: EINTR when the kernel interrupted it, EIO otherwise.</summary>
    private void Fail(FuseRequest request, Exception e)
    {
        var name = Operation(request.Header.Opcode).Name;
        if (e is OperationCanceledException && request.Cancellation.IsCancellationRequested)
        {
            logger.LogDebug("FUSE {Operation} #{Unique}: interrupted", name, request.Unique);
            Reply(request, Errno.EINTR);
            return;
        }
        logger.LogError(e, "FUSE {Operation} #{Unique} on inode {Ino} failed; answering EIO", name, request.Unique, request.NodeId);
        Reply(request, Errno.EIO);
    }

    private void Finish(FuseRequest request)
    {
        if (!request.Replied)
        {
            // A handler that forgot to answer would leave the caller's syscall hanging forever.
            logger.LogError("FUSE {Operation} #{Unique}: handler completed without a reply; answering EIO",
                Operation(request.Header.Opcode).Name, request.Unique);
            Reply(request, Errno.EIO);
        }
        // Only our own entry: once the reply is out the kernel may already reuse this unique for a new request.
        if (request.Source is { } source)
            _inFlight.TryRemove(KeyValuePair.Create(request.Unique, source));
    }

    // ---- replies: each is exactly one write of header + payload ----

    /// <summary>Answers with an errno (0 = success with no payload).</summary>
    public void Reply(FuseRequest request, int errno)
    {
        Span<byte> message = stackalloc byte[Wire.OutHeaderSize];
        Send(request, message, errno);
    }

    public void Reply<T>(FuseRequest request, in T payload) where T : unmanaged
    {
        Span<byte> message = stackalloc byte[Wire.OutHeaderSize + Unsafe.SizeOf<T>()];
        Wire.Write(message[Wire.OutHeaderSize..], payload);
        Send(request, message, 0);
    }

    public void ReplyBytes(FuseRequest request, ReadOnlySpan<byte> payload)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(Wire.OutHeaderSize + payload.Length);
        try
        {
            payload.CopyTo(rented.AsSpan(Wire.OutHeaderSize));
            Send(request, rented.AsSpan(0, Wire.OutHeaderSize + payload.Length), 0);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Writes a message whose payload already sits after <see cref="Wire.OutHeaderSize"/> reserved bytes.</summary>
    public void Send(FuseRequest request, Span<byte> message, int errno)
    {
        if (request.Replied)
        {
            logger.LogWarning("FUSE {Operation} #{Unique}: second reply suppressed", Operation(request.Header.Opcode).Name, request.Unique);
            return;
        }
        request.Replied = true;
        if (errno != 0)
            message = message[..Wire.OutHeaderSize];
        Wire.Write(message, new FuseOutHeader { Len = (uint)message.Length, Error = -errno, Unique = request.Unique });
        // Counted before the write: once the caller's syscall returns, its request is in the counters (a test or a
        // script that reads them right after a syscall sees it; counted after, the last one could be missing).
        FuseMetrics.Replied(request.Header.Opcode, errno, request.Started);
        int result = device.Write(message);
        switch (result)
        {
            case 0:
                break;
            case Errno.ENOENT:
                // The kernel no longer waits for this request (interrupted, or the connection is being torn down).
                logger.LogDebug("FUSE reply #{Unique}: request gone (ENOENT)", request.Unique);
                break;
            case Errno.ENODEV:
                logger.LogDebug("FUSE reply #{Unique}: connection closed", request.Unique);
                break;
            default:
                logger.LogWarning("FUSE {Operation} #{Unique}: writing the reply failed with errno {Errno}",
                    Operation(request.Header.Opcode).Name, request.Unique, result);
                break;
        }
    }

    // ---- INTERRUPT ----

    private ValueTask Interrupt(FuseRequest request)
    {
        var target = Wire.Read<FuseInterruptIn>(request.Args.Span).Unique;
        if (_inFlight.TryGetValue(target, out var cancellation))
        {
            // Cancel on the pool: callbacks registered by the filesystem must not run on a reader thread.
            _ = cancellation.CancelAsync();
            return default;
        }
        // With several readers the INTERRUPT can overtake its request; EAGAIN makes the kernel queue it again.
        // If the request already finished, the kernel answers this write with ENOENT, which is harmless.
        Span<byte> message = stackalloc byte[Wire.OutHeaderSize];
        Wire.Write(message, new FuseOutHeader { Len = (uint)message.Length, Error = -Errno.EAGAIN, Unique = request.Unique });
        device.Write(message);
        return default;
    }

    private ValueTask Destroy(FuseRequest request)
    {
        if (Interlocked.Exchange(ref _destroyed, 1) == 0)
            Destroyed?.Invoke();
        Reply(request, 0);
        return default;
    }

    private ValueTask NotImplemented(FuseRequest request)
    {
        Reply(request, Errno.ENOSYS);
        return default;
    }
}
