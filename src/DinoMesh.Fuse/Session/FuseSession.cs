using System.Diagnostics;
using DinoMesh.Fuse.Interop;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Fuse.Session;

/// <summary>
/// One FUSE connection: dedicated reader threads, each blocking in read(2) on /dev/fuse with its own pooled buffer.
/// A request whose handler completes synchronously is answered on the reader thread and the buffer is reused at once.
/// A handler that goes asynchronous keeps the buffer (its arguments point into it) until it has replied; the thread
/// takes a fresh buffer and reads on. The session ends when every reader has seen ENODEV (unmounted or aborted).
/// </summary>
internal sealed class FuseSession
{
    /// <summary>How long the end of a session waits for asynchronous handlers still running.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly FuseDevice _device;
    private readonly FuseDispatcher _dispatcher;
    private readonly RequestBufferPool _pool;
    private readonly IFuseFileSystem _fs;
    private readonly FuseMountOptions _options;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<FuseConnectionInfo> _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _runningReaders;
    private int _pendingAsync;
    private int _started;

    public FuseSession(FuseDeviceHandle handle, IFuseFileSystem fs, FuseMountOptions options, ILogger logger)
    {
        _device = new FuseDevice(handle);
        _fs = fs;
        _options = options;
        _logger = logger;
        // Room for the largest WRITE: max_write of data plus the request and write headers (well within one page).
        _pool = new RequestBufferPool(checked((int)options.MaxWrite + Protocol.InitNegotiation.PageSize), Math.Max(1, options.ReaderThreads) * 2 + 4);
        _dispatcher = new FuseDispatcher(fs, _device, options, logger);
        Notifier = new FuseNotifier(_device, () => _dispatcher.Connection is not null);
        _dispatcher.Initialized += OnInitialized;
    }

    public IFuseNotifier Notifier { get; }

    /// <summary>Completes once INIT has been answered and the filesystem told it is mounted.</summary>
    public Task<FuseConnectionInfo> Initialized => _initialized.Task;

    /// <summary>Completes when the session has ended and the filesystem has been told.</summary>
    public Task Completion => _completion.Task;

    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("The FUSE session is already running.");
        // Polling mode has one reader (it never sleeps while requests keep coming); blocking mode has several.
        bool polling = _options.BusyPoll > TimeSpan.Zero;
        int readers = polling ? 1 : Math.Max(1, _options.ReaderThreads);
        if (polling) _device.MakeNonBlocking();
        _runningReaders = readers;
        for (int i = 0; i < readers; i++)
        {
            var thread = new Thread(ReadLoop) { IsBackground = true, Name = $"fuse-reader-{i}" };
            thread.Start();
        }
    }

    /// <summary>Closes the device without ever having started (the mount itself failed).</summary>
    public void Abandon()
    {
        _device.Dispose();
        _initialized.TrySetException(new InvalidOperationException("The FUSE session was abandoned before INIT."));
        _completion.TrySetResult();
    }

    private void OnInitialized(FuseConnectionInfo info)
    {
        try
        {
            _fs.Mounted(Notifier);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "FUSE: the filesystem's Mounted callback failed");
        }
        _initialized.TrySetResult(info);
    }

    /// <summary>
    /// Reads and dispatches requests until the connection ends.
    /// <para>Blocking mode (<see cref="FuseMountOptions.BusyPoll"/> zero): several such threads sleep in read(2) and
    /// the kernel wakes one per request.</para>
    /// <para>Polling mode: this is the only reader; the device is non-blocking and the thread keeps re-reading for
    /// <c>BusyPoll</c> after each request before it sleeps in poll(2). A program's next call usually arrives a few
    /// microseconds after our reply (lookup, create, write, flush, release), and then it finds this thread awake
    /// instead of paying a thread wake-up per request. After a request that goes on elsewhere (answered later by
    /// another thread), only while such answers have lately come within the poll; otherwise it sleeps at once. Requests that may take long (see <see cref="MayBlock"/>) go
    /// to the thread pool so they never hold up the ones behind them.</para>
    /// </summary>
    // How long answers given off the reader thread have lately taken (Stopwatch ticks, a moving average).
    private long _asyncAnswerTicks;

    private void ReadLoop()
    {
        long pollFor = (long)(_options.BusyPoll.TotalSeconds * Stopwatch.Frequency);
        var buffer = _pool.Rent();
        long busyUntil = 0;
        try
        {
            while (true)
            {
                int length = _device.Read(buffer, out int errno);
                if (length < 0)
                {
                    if (errno == Errno.EAGAIN && pollFor > 0)
                    {
                        if (Stopwatch.GetTimestamp() < busyUntil) Thread.SpinWait(20);
                        else
                        {
                            _device.WaitReadable(1000);
                            busyUntil = Stopwatch.GetTimestamp() + pollFor;
                        }
                        continue;
                    }
                    // EINTR: a signal; EAGAIN: spurious wake-up; ENOENT: the request was interrupted before we read it.
                    if (errno is Errno.EINTR or Errno.EAGAIN or Errno.ENOENT)
                        continue;
                    if (errno == Errno.ENODEV)
                        _logger.LogDebug("FUSE reader {Thread}: connection closed", Environment.CurrentManagedThreadId);
                    else
                        _logger.LogError("FUSE reader {Thread}: read from /dev/fuse failed with errno {Errno}; stopping", Environment.CurrentManagedThreadId, errno);
                    return;
                }
                if (length == 0)
                    return;

                if (pollFor > 0) busyUntil = Stopwatch.GetTimestamp() + pollFor;
                var message = buffer.AsMemory(0, length);
                var pending = pollFor > 0 && MayBlock(buffer)
                    ? new ValueTask(Task.Run(() => _dispatcher.DispatchAsync(message).AsTask()))
                    : _dispatcher.DispatchAsync(message);
                if (pending.IsCompleted)
                {
                    pending.GetAwaiter().GetResult();
                    continue;
                }
                // The caller waits for this answer, which another thread gives. When such answers have lately taken
                // longer than the poll (a commit to a majority over the network, a chunk read from disk), its next call
                // cannot come within the poll: sleep now rather than spin on a core that the answer itself may need (on
                // a small machine, the commit's follower). Answers that come quickly (a lone node's commit) keep the
                // spin, which then catches the next call. Another caller's request still wakes us, as in blocking mode.
                if (Volatile.Read(ref _asyncAnswerTicks) > pollFor) busyUntil = 0;
                Interlocked.Increment(ref _pendingAsync);
                _ = ReturnWhenDoneAsync(pending, buffer, Stopwatch.GetTimestamp());
                buffer = _pool.Rent();
            }
        }
        catch (Exception e)
        {
            // DispatchAsync never throws; this guards the loop itself so a bug cannot leave the mount hanging silently.
            _logger.LogCritical(e, "FUSE reader crashed");
        }
        finally
        {
            _pool.Return(buffer);
            if (Interlocked.Decrement(ref _runningReaders) == 0)
                _ = EndAsync();
        }
    }

    /// <summary>
    /// Requests whose handler may wait on the disk or copy a lot: reads (a chunk may have to be read and verified),
    /// fsyncs and copy_file_range (unaligned edges are read and written, the whole range copied). In polling mode they
    /// run on the thread pool. A WRITE, however large, is handled here: its handler copies the payload out (at most
    /// max_write, a megabyte in some 100 µs) and, where it must wait (a file with too many blocks being stored), answers
    /// later without holding this thread. Handing a megabyte's copy to the pool cost a thread wake-up on the writer's
    /// path for every WRITE, and the reader then slept instead of catching the writer's next WRITE while it polls.
    /// </summary>
    private static bool MayBlock(byte[] message)
    {
        var opcode = (Protocol.FuseOpcode)Protocol.Wire.Read<Protocol.FuseInHeader>(message).Opcode;
        return opcode is Protocol.FuseOpcode.Read or Protocol.FuseOpcode.Fsync or Protocol.FuseOpcode.FsyncDir or Protocol.FuseOpcode.CopyFileRange;
    }

    private async Task ReturnWhenDoneAsync(ValueTask pending, byte[] buffer, long dispatched)
    {
        try
        {
            await pending;
        }
        finally
        {
            // A moving average (weight 1/8) of how long answers given off the reader take; racing updates from two
            // threads may lose one sample, which an average can afford.
            long took = Stopwatch.GetTimestamp() - dispatched;
            long average = Volatile.Read(ref _asyncAnswerTicks);
            Volatile.Write(ref _asyncAnswerTicks, average + (took - average) / 8);
            _pool.Return(buffer);
            Interlocked.Decrement(ref _pendingAsync);
        }
    }

    private async Task EndAsync()
    {
        var started = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref _pendingAsync) > 0 && Stopwatch.GetElapsedTime(started) < DrainTimeout)
            await Task.Delay(10);
        if (Volatile.Read(ref _pendingAsync) > 0)
            _logger.LogWarning("FUSE session ended with {Count} requests still running", Volatile.Read(ref _pendingAsync));

        bool wasMounted = _initialized.Task.IsCompletedSuccessfully;
        _initialized.TrySetException(new InvalidOperationException("The FUSE connection closed before INIT completed."));
        if (wasMounted)
        {
            try
            {
                _fs.Unmounted();
            }
            catch (Exception e)
            {
                _logger.LogError(e, "FUSE: the filesystem's Unmounted callback failed");
            }
        }
        _device.Dispose();
        _logger.LogInformation("FUSE session ended");
        _completion.TrySetResult();
    }
}
