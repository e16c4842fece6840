using System.Diagnostics;
using DinoMesh.Fuse.Interop;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Fuse.Session;

/// <summary>
/// The reader's role lent to the thread that answers asynchronously. A request answered off the reader (a commit
/// waiting for a majority) lets the reader sleep, since its caller cannot send the next call before the answer; the
/// answer is then written by whatever thread finished the work (in the node, the connection reader that received the
/// followers' acknowledgement), and the caller's next call arrives a few microseconds later to find the FUSE reader
/// asleep: one thread wake-up on the caller's path, which on a guest whose idle vCPUs halt costs some 45 µs more when
/// the reader last ran on the other CPU (docs/benchmarks.md, "One writer: what this machine charges for a wake-up").
/// So the answering thread, right after the answer, polls the non-blocking device for the same budget and with the
/// same spin as the reader, and handles what it catches there.
/// </summary>
internal sealed partial class FuseSession
{
    /// <summary>
    /// At most this many requests are handled by one borrowing thread in a row: it is another component's thread (a
    /// connection reader whose next answers wait meanwhile), so a caller that keeps sending sync requests goes back
    /// to the FUSE reader after a few.
    /// </summary>
    private const int MaxReadAfterAnswer = 8;

    // True while the FUSE reader sleeps in poll(2): only then is a wake-up saved by reading elsewhere.
    private bool _readerAsleep;

    // 1 while some answering thread reads the device: at most one at a time.
    private int _answererReading;

    private long _readAfterAnswer;

    /// <summary>
    /// Called by the thread that has just written an asynchronous answer, with that request's buffer, now free (it
    /// still holds the request). In polling mode, while the reader sleeps and no other thread does this, reads the
    /// device for up to the poll budget after the answer (and after each request it handles synchronously), and
    /// dispatches what it reads as the reader would. It never waits for a handler: once one goes asynchronous, the
    /// request keeps the buffer and this returns. Returns the buffer when it is still free, null when a request kept it.
    /// Not after a request the reader handed to the thread pool (<see cref="MayBlock"/>): a READ answered there is
    /// followed by the kernel's next readahead, not by its caller's next call, and a spin after each would take CPU from
    /// reads that are CPU-bound.
    /// </summary>
    private byte[]? AnswerThenRead(byte[] buffer)
    {
        if (_pollTicks <= 0 || !Volatile.Read(ref _readerAsleep) || MayBlock(buffer) || Interlocked.CompareExchange(ref _answererReading, 1, 0) != 0)
            return buffer;
        try
        {
            long spin = _pollTicks / 2;
            long until = Stopwatch.GetTimestamp() + spin;
            for (int handled = 0; handled < MaxReadAfterAnswer;)
            {
                int length = _device.Read(buffer, out int errno);
                if (length < 0 && errno is Errno.EAGAIN or Errno.EINTR or Errno.ENOENT)
                {
                    if (Stopwatch.GetTimestamp() >= until) return buffer;
                    Thread.SpinWait(20);
                    continue;
                }
                // The connection is gone (or a read failed): the reader sees the same and ends the session.
                if (length <= 0) return buffer;

                handled++;
                Interlocked.Increment(ref _readAfterAnswer);
                FuseMetrics.ReadAfterAnswer();
                long dispatched = Stopwatch.GetTimestamp();
                var pending = Dispatch(buffer, length);
                if (!pending.IsCompleted)
                {
                    Interlocked.Increment(ref _pendingAsync);
                    _ = ReturnWhenDoneAsync(pending, buffer, dispatched);
                    return null;
                }
                pending.GetAwaiter().GetResult();
                until = Stopwatch.GetTimestamp() + spin;
            }
            return buffer;
        }
        catch (Exception e)
        {
            // Dispatch never throws; this guards the loop so a bug shows instead of a buffer handed out twice.
            _logger.LogCritical(e, "FUSE: reading after an answer failed");
            return null;
        }
        finally
        {
            Volatile.Write(ref _answererReading, 0);
        }
    }
}
