using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Security;
using System.Text;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Client;

/// <summary>How far a lean call got.</summary>
internal enum LeanOutcome
{
    /// <summary>The server never read it (no connection, or it was after the server's goaway): it may go another way.</summary>
    NotSent,

    /// <summary>It was written, and the connection ended before its answer: the server may have run it.</summary>
    Lost,

    /// <summary>The server answered (with the answer or a typed failure).</summary>
    Answered,
}

internal readonly record struct LeanReply(LeanOutcome Outcome, CallFailure Failure, byte[]? Answer, string Detail)
{
    public static LeanReply NotSent(string detail) => new(LeanOutcome.NotSent, CallFailure.Unreachable, null, detail);
}

/// <summary>
/// One lean connection (see <see cref="LeanWire"/>): calls are queued, and whoever writes the queue numbers them in the
/// order it writes them and sends whatever is queued in one TLS write; one reader matches answers to calls by number. When the
/// connection ends, each call still waiting learns whether the server may have read it.
/// </summary>
internal sealed class LeanConnection : IDisposable
{
    private readonly SslStream _tls;
    private readonly ConcurrentQueue<Pending> _queue = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(4096); // the writer's only
    private readonly List<Pending> _batch = [];
    private int _writing;
    private readonly ConcurrentDictionary<uint, Pending> _waiting = new();
    private readonly Task _reader;
    private uint _lastId;
    private uint _lastReadByServer = uint.MaxValue;
    private volatile bool _goingAway;
    private volatile bool _ended;
    private string _endReason = "";
    private long _lastReceived = Stopwatch.GetTimestamp();
    private long _pingSent;

    /// <param name="readOnCaller">
    /// The stream under <paramref name="tls"/> blocks (a thread of its own reads it: see <see cref="DedicatedReaders"/>):
    /// no reader starts here, and the thread that dialled reads with <see cref="ReadHere"/>.
    /// </param>
    /// <param name="postLiveness">See <see cref="DefaultPostLivenessInterval"/>; null: that default.</param>
    public LeanConnection(SslStream tls, bool readOnCaller = false, TimeSpan? postLiveness = null)
    {
        _tls = tls;
        _postLiveness = postLiveness ?? DefaultPostLivenessInterval;
        _reader = readOnCaller ? Task.CompletedTask : ReadLoopAsync();
    }

    /// <summary>
    /// Reads the connection on the calling thread until it ends: every read completes before it returns, so the loop and
    /// what answers run inline never leave this thread.
    /// </summary>
    public void ReadHere() => ReadLoopAsync().GetAwaiter().GetResult();

    /// <summary>False once the connection ended, the server said goaway, or a ping went unanswered too long.</summary>
    public bool Usable(TimeSpan pingTimeout)
    {
        if (_ended || _goingAway) return false;
        var ping = Volatile.Read(ref _pingSent);
        if (ping != 0 && Volatile.Read(ref _lastReceived) < ping && Stopwatch.GetElapsedTime(ping) > pingTimeout)
        {
            End("the peer did not answer a ping");
            return false;
        }
        return true;
    }

    /// <param name="answerInline">The caller's continuation runs on this connection's reader when the answer arrives (see PeerTransport.CallAsync).</param>
    public async Task<LeanReply> CallAsync(byte[] protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline, int maxAnswerBytes, CancellationToken ct, bool answerInline = false)
    {
        var pending = new Pending(protocolId, request, deadline, maxAnswerBytes, answerInline);
        if (!Enqueue(pending)) return LeanReply.NotSent("the lean connection is closed");
        try
        {
            return await pending.Task.WaitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            // Given up (deadline or caller). A late answer is dropped on arrival. If nothing at all came back since the
            // call went out, the connection may be dead without a word: a ping finds out before the next call trusts it.
            pending.Abandon();
            if (pending.Id != 0) _waiting.TryRemove(pending.Id, out _);
            if (pending.SentAt != 0 && Volatile.Read(ref _lastReceived) < pending.SentAt && Interlocked.CompareExchange(ref _pingSent, Stopwatch.GetTimestamp(), 0) == 0)
            {
                Enqueue(Pending.Ping());
            }
            throw;
        }
    }

    /// <summary>
    /// A connection that only carries posts hears nothing back, so nothing would notice that it silently died (a peer
    /// gone without a reset): a post sent after this long without a frame from the peer takes a ping along, and
    /// <see cref="Usable"/> ends the connection when its pong does not come. Long, so pongs stay rare next to the
    /// answers posts save. <see cref="TransportOptions.PostLivenessInterval"/>; a test of the ping sets it shorter.
    /// </summary>
    public static readonly TimeSpan DefaultPostLivenessInterval = TimeSpan.FromSeconds(20);

    private readonly TimeSpan _postLiveness;

    /// <summary>
    /// Queues a post (a call with no answer: see <see cref="LeanWire"/>); false when this connection takes no more. True
    /// says only that it will be written unless the connection ends first, never that the peer read it.
    /// </summary>
    public bool Post(byte[] protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline)
    {
        if (!Enqueue(Pending.Post(protocolId, request, deadline))) return false;
        if (Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived)) > _postLiveness &&
            Interlocked.CompareExchange(ref _pingSent, Stopwatch.GetTimestamp(), 0) == 0)
        {
            Enqueue(Pending.Ping());
        }
        return true;
    }

    /// <summary>Queues a call (or ping) and writes the queue unless another caller is writing it already.</summary>
    private bool Enqueue(Pending pending)
    {
        if (_ended || _goingAway) return false;
        _queue.Enqueue(pending);
        // The connection may have ended between the check and the enqueue: the call is then ended at once.
        if (_ended)
        {
            Sweep();
            return true;
        }
        if (_goingAway)
        {
            while (_queue.TryDequeue(out var queued)) queued.TrySetResult(LeanReply.NotSent("the connection is closing"));
            return true;
        }
        _ = WriteQueuedAsync();
        return true;
    }

    /// <summary>
    /// Writes whatever is queued, numbering the calls in the order written, in as few TLS writes as it can. The caller
    /// that finds nobody writing does it (usually without leaving its thread: a small write completes at once); one that
    /// finds it taken leaves its call to the writer, who looks at the queue again before it lets go.
    /// </summary>
    private async Task WriteQueuedAsync()
    {
        while (!_queue.IsEmpty && Interlocked.CompareExchange(ref _writing, 1, 0) == 0)
        {
            try
            {
                while (!_ended && !_goingAway && !_queue.IsEmpty)
                {
                    _buffer.ResetWrittenCount();
                    _batch.Clear();
                    while (_buffer.WrittenCount < 256 * 1024 && _queue.TryDequeue(out var pending))
                    {
                        if (pending.IsPing)
                        {
                            LeanWire.WriteControl(_buffer, LeanWire.Ping, 0);
                            continue;
                        }
                        if (!pending.TryStartSending()) continue; // abandoned while queued: never sent
                        if (pending.IsPost)
                        {
                            LeanWire.WriteCall(_buffer, LeanWire.PostId, pending.ProtocolId, pending.RemainingDeadline(), pending.Request.Span);
                            continue;
                        }
                        pending.Id = ++_lastId;
                        _waiting[pending.Id] = pending;
                        LeanWire.WriteCall(_buffer, pending.Id, pending.ProtocolId, pending.RemainingDeadline(), pending.Request.Span);
                        _batch.Add(pending);
                    }
                    if (_buffer.WrittenCount == 0) continue;
                    var now = Stopwatch.GetTimestamp();
                    foreach (var pending in _batch) pending.SentAt = now;
                    await _tls.WriteAsync(_buffer.WrittenMemory);
                }
            }
            catch (Exception e)
            {
                End("writing failed: " + e.Message);
            }
            finally
            {
                Volatile.Write(ref _writing, 0);
            }
            if (_ended)
            {
                // Calls taken after the connection ended (or queued as it ended) are swept once more, so none waits for nothing.
                Sweep();
                return;
            }
        }
    }

    private async Task ReadLoopAsync()
    {
        var input = PipeReader.Create(_tls, new StreamPipeReaderOptions(bufferSize: 16 * 1024));
        long skip = 0;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                if (!buffer.IsEmpty) Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());
                while (true)
                {
                    if (skip > 0)
                    {
                        var dropped = Math.Min(skip, buffer.Length);
                        buffer = buffer.Slice(dropped);
                        skip -= dropped;
                        if (skip > 0) break;
                    }
                    var consumed = TakeOne(buffer, ref skip);
                    if (consumed == 0) break;
                    buffer = buffer.Slice(consumed);
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    End(_goingAway ? "closed by the server after its goaway" : "the peer closed the connection");
                    return;
                }
            }
        }
        catch (Exception e)
        {
            End("connection lost: " + e.Message);
        }
        finally
        {
            await input.CompleteAsync();
        }
    }

    /// <summary>Handles the frame at the start of <paramref name="buffer"/>; its length, or 0 while it is not all there.</summary>
    private long TakeOne(ReadOnlySequence<byte> buffer, ref long skip)
    {
        if (buffer.Length < LeanWire.ControlSize) return 0;
        Span<byte> head = stackalloc byte[LeanWire.AnswerHeaderSize];
        buffer.Slice(0, Math.Min(head.Length, buffer.Length)).CopyTo(head);
        var id = BinaryPrimitives.ReadUInt32BigEndian(head[1..]);
        switch (head[0])
        {
            case LeanWire.Pong:
                Volatile.Write(ref _pingSent, 0);
                return LeanWire.ControlSize;
            case LeanWire.GoAway:
                GoAway(id);
                return LeanWire.ControlSize;
            case LeanWire.Answer:
                break;
            default:
                throw new InvalidDataException($"unknown frame kind {head[0]} from the peer");
        }
        if (buffer.Length < LeanWire.AnswerHeaderSize) return 0;
        var status = (CallFailure)head[5];
        // This node is not admitted there (or not yet): the answer a refused post gets, and what a server says before the
        // goaway when it refuses the connection itself. The one answer with id 0 a caller ever gets.
        if (id == LeanWire.PostId && status == CallFailure.Refused) RefusedAtOnce = true;
        var length = BinaryPrimitives.ReadUInt32BigEndian(head[6..]);
        if (length > LeanWire.MaxAnswerBytes) throw new InvalidDataException($"an answer of {length} bytes exceeds {LeanWire.MaxAnswerBytes}");
        _waiting.TryGetValue(id, out var pending);
        var bound = status == CallFailure.None ? pending?.MaxAnswerBytes ?? 0 : LeanWire.MaxReasonBytes;
        if (pending is null || length > (uint)bound)
        {
            // Nobody waits for it (given up), or it is over the call's bound: read past it without keeping it.
            if (pending is not null && _waiting.TryRemove(id, out _))
            {
                pending.TrySetResult(new LeanReply(LeanOutcome.Answered, CallFailure.TooLarge, null, $"answer of {length} bytes exceeds the bound of {bound}"));
            }
            var here = Math.Min(buffer.Length - LeanWire.AnswerHeaderSize, length);
            skip = length - here;
            return LeanWire.AnswerHeaderSize + here;
        }
        if (buffer.Length < LeanWire.AnswerHeaderSize + length) return 0;
        var body = buffer.Slice(LeanWire.AnswerHeaderSize, length).ToArray();
        if (_waiting.TryRemove(id, out _))
        {
            pending.TrySetResult(status == CallFailure.None
                ? new LeanReply(LeanOutcome.Answered, CallFailure.None, body, "")
                : new LeanReply(LeanOutcome.Answered, Enum.IsDefined(status) ? status : CallFailure.RemoteError, null, Encoding.UTF8.GetString(body)));
        }
        CloseIfDone();
        return LeanWire.AnswerHeaderSize + length;
    }

    /// <summary>The server read every call up to <paramref name="lastRead"/> and will read no more: the rest go elsewhere.</summary>
    private void GoAway(uint lastRead)
    {
        // A goaway that read none of our calls while one was on its way is a refusal from a server that predates saying
        // so (a server now refuses with an answer to call id 0 first: TakeOne). With none on its way it is the server
        // closing a connection that stayed idle (no call within its first-request bound or idle timeout, as when the
        // call it was dialled for was given up before it was written): that peer admitted us.
        if (lastRead == 0 && !_waiting.IsEmpty) RefusedAtOnce = true;
        _lastReadByServer = lastRead;
        _goingAway = true;
        foreach (var (id, pending) in _waiting)
        {
            if (id > lastRead && _waiting.TryRemove(id, out _)) pending.TrySetResult(LeanReply.NotSent("the server closed the connection before reading the call"));
        }
        // Calls still queued here were never written, and no writer takes them now.
        while (_queue.TryDequeue(out var queued)) queued.TrySetResult(LeanReply.NotSent("the connection is closing"));
        CloseIfDone();
    }

    /// <summary>
    /// The server turns this peer away on the lean path (not admitted there, or not yet): it answered call id 0 with
    /// <see cref="CallFailure.Refused"/>, or said goaway having read none of the calls on their way to it.
    /// </summary>
    public bool RefusedAtOnce { get; private set; }

    /// <summary>Why the connection ended (empty while it has not): for logs and tests.</summary>
    public string EndReason => _ended ? _endReason : "";

    // After a goaway, hanging up once nothing waits lets the server close without resetting the connection.
    private void CloseIfDone()
    {
        if (_goingAway && _waiting.IsEmpty) End("closed after the server's goaway");
    }

    private void End(string reason)
    {
        lock (_waiting)
        {
            if (_ended) return;
            _endReason = reason;
            _ended = true;
        }
        try
        {
            _tls.Dispose();
        }
        catch (Exception)
        {
        }
        Sweep();
    }

    /// <summary>Ends every call still waiting on an ended connection, saying whether the server may have read it.</summary>
    private void Sweep()
    {
        if (!_ended) return;
        var reason = _endReason;
        foreach (var (id, pending) in _waiting)
        {
            if (!_waiting.TryRemove(id, out _)) continue;
            pending.TrySetResult(id > _lastReadByServer
                ? LeanReply.NotSent("the server closed the connection before reading the call")
                : new LeanReply(LeanOutcome.Lost, CallFailure.Unreachable, null, $"{reason}; the call may have reached the peer"));
        }
        while (_queue.TryDequeue(out var queued)) queued.TrySetResult(LeanReply.NotSent(reason));
    }

    /// <summary>Ends the connection; its loops finish on their own, and calls still waiting learn at once.</summary>
    public void Dispose()
    {
        End("the transport is closing");
        _ = _reader;
    }

    /// <summary>A call from queueing to its answer.</summary>
    private sealed class Pending : TaskCompletionSource<LeanReply>
    {
        private readonly long _queuedAt = Stopwatch.GetTimestamp();
        private readonly TimeSpan _deadline;
        private int _state; // 0 queued, 1 sending, 2 abandoned

        public Pending(byte[] protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline, int maxAnswerBytes, bool answerInline)
            : base(answerInline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously)
        {
            ProtocolId = protocolId;
            Request = request;
            _deadline = deadline;
            MaxAnswerBytes = maxAnswerBytes;
        }

        private Pending()
            : base(TaskCreationOptions.None)
        {
            ProtocolId = [];
            IsPing = true;
        }

        public static Pending Ping() => new();

        public static Pending Post(byte[] protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline) =>
            new(protocolId, request, deadline, maxAnswerBytes: 0, answerInline: true) { IsPost = true };

        public bool IsPing { get; }

        public bool IsPost { get; private init; }

        public byte[] ProtocolId { get; }

        public ReadOnlyMemory<byte> Request { get; }

        public int MaxAnswerBytes { get; }

        public uint Id { get; set; }

        public long SentAt { get; set; }

        public TimeSpan RemainingDeadline() => _deadline - Stopwatch.GetElapsedTime(_queuedAt);

        public bool TryStartSending() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

        public void Abandon() => Interlocked.CompareExchange(ref _state, 2, 0);
    }
}
