using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using DinoMesh.Core.Identity;
using DinoMesh.Transport.Lean;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Serves one lean connection (see <see cref="LeanWire"/>): admitted members only, many calls at once, each to the same
/// unary handler an HTTP/2 call of that protocol reaches, with the same bounds, deadlines and failures. A connection
/// ends with a goaway (every call read so far is still answered) when the peer is refused, sends something malformed
/// or oversized, stays idle past <see cref="ConnectionLimits.LeanIdleTimeout"/>, or the server stops.
/// </summary>
internal sealed class LeanServer
{

    /// <summary>Calls one connection may have in its handlers at once; past it the server reads no more until one ends.</summary>
    public const int MaxCallsInFlight = 512;

    private readonly ProtocolTable _protocols;
    private readonly IAdmission _admission;
    private readonly RefusalLog _refusals;
    private readonly Action<PeerContext, Exception, CancellationToken> _logFailure;

    private readonly TimeSpan _idleTimeout;

    public LeanServer(ProtocolTable protocols, IAdmission admission, RefusalLog refusals, Action<PeerContext, Exception, CancellationToken> logFailure, TimeSpan idleTimeout)
    {
        _idleTimeout = idleTimeout;
        _protocols = protocols;
        _admission = admission;
        _refusals = refusals;
        _logFailure = logFailure;
    }

    /// <summary>A lean connection Kestrel accepted and took through TLS (a ClientHello the listener did not take).</summary>
    public Task ServeAsync(ConnectionContext connection, PeerId peer, ConnectionActivity activity)
    {
        // The server stopping asks every connection to close (Kestrel fires it); so does an idle one (see Session.Stop).
        var closeRequested = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        // Kestrel's ConnectionClosed fires when the caller hangs up or the socket fails, which cancels the handlers.
        var session = new Session(this, connection.Transport.Input, connection.Transport.Output, peer, connection.RemoteEndPoint as IPEndPoint, activity,
            connection.ConnectionClosed, closeRequested, ended: null);
        return RunAndDrainAsync(session, connection.Transport.Input, connection.ConnectionClosed);
    }

    private static async Task RunAndDrainAsync(Session session, PipeReader input, CancellationToken closed)
    {
        if (await session.RunAsync()) await DrainQuietlyAsync(input, closed);
    }

    /// <summary>
    /// A lean connection served past Kestrel (<see cref="DirectConnections"/>): already through TLS and admitted at its
    /// handshake. The session reads frames straight from <paramref name="tls"/> on its own loop (a socket's completion
    /// decrypts and parses on the thread it completed on, where an inline handler also runs) and writes answers
    /// straight to it, with no pipe between. It ends as a Kestrel connection does: when the caller hangs up, when
    /// <paramref name="closeRequested"/> fires (goaway, then the calls read are answered), on idle or when no call
    /// comes within <paramref name="firstRequest"/> (the same), and <paramref name="aborted"/> cuts it.
    /// </summary>
    public async Task ServeAsync(Stream tls, PeerId peer, IPEndPoint? remote, ConnectionActivity activity,
        CancellationToken aborted, CancellationToken closeRequested, TimeSpan firstRequest)
    {
        // What Kestrel's ConnectionClosed is to the other entry: fired by an abort, or by the session when the caller
        // hung up or a write failed, so that handlers still running are cancelled.
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var (session, input, output, first) = Open(tls, peer, remote, activity, closed, closeRequested, firstRequest, socket: null);
        try
        {
            if (await session.RunAsync()) await DrainQuietlyAsync(input, closed.Token);
        }
        finally
        {
            await first.DisposeAsync();
            await input.CompleteAsync();
            await output.CompleteAsync();
            CancelQuietly(closed);
        }
    }

    /// <summary>
    /// The same for a connection whose <paramref name="socket"/> (the stream under <paramref name="tls"/>) is read by
    /// the calling thread, a thread of its own (<see cref="DedicatedReaders"/>): every read completes before it returns,
    /// so the session's reading runs here until the connection ends; a stop interrupts this thread's receive, and the end
    /// closes the socket. Returns when the connection has ended.
    /// <para>The session's end may run elsewhere: after its goaway it waits for the handlers still running, and goes on
    /// on the pool thread where the last of them finished. The wait for the caller to hang up (up to
    /// <see cref="DrainTimeout"/>, blocking receives) is done back here, so no pool thread is held by it: a stop or a
    /// burst of refusals ends many sessions at once.</para>
    /// </summary>
    public void Serve(Stream tls, PeerId peer, IPEndPoint? remote, ConnectionActivity activity,
        CancellationToken aborted, CancellationToken closeRequested, TimeSpan firstRequest, DedicatedSocketStream socket)
    {
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        // A blocking receive hears no token: closing the socket is what ends it.
        using var unblock = closed.Token.Register(static state => ((Stream)state!).Dispose(), socket);
        var (session, input, output, first) = Open(tls, peer, remote, activity, closed, closeRequested, firstRequest, socket);
        try
        {
            if (session.RunAsync().GetAwaiter().GetResult()) socket.Drain(DrainTimeout);
        }
        finally
        {
            first.Dispose();
            input.Complete();
            output.Complete();
            CancelQuietly(closed);
        }
    }

    private (Session Session, PipeReader Input, PipeWriter Output, Timer FirstRequest) Open(Stream tls, PeerId peer, IPEndPoint? remote, ConnectionActivity activity,
        CancellationTokenSource closed, CancellationToken closeRequested, TimeSpan firstRequest, DedicatedSocketStream? socket)
    {
        var input = PipeReader.Create(tls, new StreamPipeReaderOptions(bufferSize: ReadBufferBytes, minimumReadSize: 1024, leaveOpen: true));
        var output = PipeWriter.Create(tls, new StreamPipeWriterOptions(leaveOpen: true));
        var session = new Session(this, input, output, peer, remote, activity, closed.Token, closeRequested, ended: () => CancelQuietly(closed), socket);
        // Kestrel's path closes a connection that sends no request within the first-request bound (ConnectionWatch).
        var first = new Timer(_ => StopUnlessCalled(session, activity, peer, remote, firstRequest), null, firstRequest, Timeout.InfiniteTimeSpan);
        return (session, input, output, first);
    }

    private void StopUnlessCalled(Session session, ConnectionActivity activity, PeerId peer, IPEndPoint? remote, TimeSpan firstRequest)
    {
        if (activity.AnyRequest) return;
        var source = remote is null ? "?" : AddressKey.Of(remote.Address).ToString();
        var reason = $"no request within {firstRequest.TotalSeconds:0.#} s of the handshake";
        _refusals.Refused(LogLevel.Information, $"connections closed ({reason})", source,
            "closed the connection of {Peer} from {Remote}: {Reason}", peer.Short, source, reason);
        session.Stop(reason);
    }

    /// <summary>What one read of a connection served past Kestrel takes from its TLS stream at most (a TLS record is 16 KiB).</summary>
    private const int ReadBufferBytes = 16 * 1024;

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    // One clock for every open connection's idle check, running only while there are connections: a timer per
    // connection fired every 15 s each, two or three times a second on a node with 32 peers, and each firing wakes
    // the timer thread and a pool worker.
    private readonly Lock _sessionsGate = new();
    private readonly HashSet<Session> _sessions = [];
    private Timer? _idleWatch;

    private void Watch(Session session)
    {
        lock (_sessionsGate)
        {
            _sessions.Add(session);
            _idleWatch ??= new Timer(_ => StopIdleSessions(), null, _idleTimeout / 4, _idleTimeout / 4);
        }
    }

    private void Unwatch(Session session)
    {
        lock (_sessionsGate)
        {
            _sessions.Remove(session);
            if (_sessions.Count > 0) return;
            _idleWatch?.Dispose();
            _idleWatch = null;
        }
    }

    private void StopIdleSessions()
    {
        Session[] sessions;
        lock (_sessionsGate) sessions = [.. _sessions];
        foreach (var session in sessions) session.StopIfIdle(_idleTimeout);
    }

    /// <summary>How long a closing connection keeps reading (and dropping) what the caller still sends, until it hangs up.</summary>
    internal static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Turns away a connection of a peer that is not admitted: a refusal (see <see cref="WriteRefusal"/>) and a goaway
    /// that says no call was read, so the caller sends them over HTTP/2 and learns its refusal there, with the reason.
    /// </summary>
    public static Task RefuseAsync(ConnectionContext connection) =>
        RefuseAsync(connection.Transport.Input, connection.Transport.Output, connection.ConnectionClosed);

    /// <summary>The same for a connection served past Kestrel, over its TLS stream.</summary>
    public static async Task RefuseAsync(Stream tls, CancellationToken closed)
    {
        var input = PipeReader.Create(tls, new StreamPipeReaderOptions(leaveOpen: true));
        var output = PipeWriter.Create(tls, new StreamPipeWriterOptions(leaveOpen: true));
        await RefuseAsync(input, output, closed);
        await input.CompleteAsync();
        await output.CompleteAsync();
    }

    private static async Task RefuseAsync(PipeReader input, PipeWriter output, CancellationToken closed)
    {
        try
        {
            WriteRefusal(output);
            await output.FlushAsync(closed);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ConnectionResetException or ObjectDisposedException or InvalidOperationException)
        {
            return;
        }
        await DrainQuietlyAsync(input, closed);
    }

    private static readonly byte[] NotAdmitted = LeanWire.Reason("not an admitted member");

    /// <summary>
    /// A refusal says so before its goaway: an answer to call id 0 (what a refused post gets) with
    /// <see cref="CallFailure.Refused"/> and the reason. The goaway alone cannot tell the caller: a connection closed as
    /// idle before its first call gets the same one, and the refusal may arrive before the caller's first call is
    /// written. Callers of the previous version took this answer as a refusal too.
    /// </summary>
    private static void WriteRefusal(IBufferWriter<byte> output)
    {
        LeanWire.WriteAnswer(output, LeanWire.PostId, CallFailure.Refused, NotAdmitted);
        LeanWire.WriteControl(output, LeanWire.GoAway, 0);
    }

    /// <summary>
    /// Reads until the caller hangs up (it does once its goaway left nothing waiting), at most <see cref="DrainTimeout"/>:
    /// closing on unread bytes would send a reset, which can destroy answers the caller has not read yet.
    /// </summary>
    private static async Task DrainQuietlyAsync(PipeReader input, CancellationToken closed)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed);
            timeout.CancelAfter(DrainTimeout);
            while (true)
            {
                var result = await input.ReadAsync(timeout.Token);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled) return;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ConnectionResetException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    private readonly record struct Outgoing(byte Kind, uint Id, CallFailure Status, byte[]? Body);

    /// <summary>One connection: a reader loop that starts handlers; answers leave in order of completion, written by whichever handler finds the output free.</summary>
    private sealed class Session
    {
        private readonly LeanServer _server;
        private readonly PipeReader _input;
        private readonly PipeWriter _output;
        private readonly CancellationToken _closed;
        private readonly CancellationToken _closeRequested;
        // Told when the caller hung up or a write failed (null where the transport notices that itself).
        private readonly Action? _ended;
        private readonly PeerId _peer;
        private readonly IPEndPoint? _remote;
        private readonly ConnectionActivity _activity;
        private readonly ConcurrentQueue<Outgoing> _outgoing = new();
        private int _writing;
        private volatile bool _outputBroken;
        private readonly SemaphoreSlim _slots = new(MaxCallsInFlight);
        // Handlers still running, by call id; a post (call id 0) by a negative number of its own.
        private readonly ConcurrentDictionary<long, Task> _running = new();
        private long _posts;
        private volatile string? _stopReason;
        // The stream under the TLS when this session's reader is a thread of its own (blocking reads), else null.
        private readonly DedicatedSocketStream? _socket;

        public Session(LeanServer server, PipeReader input, PipeWriter output, PeerId peer, IPEndPoint? remote, ConnectionActivity activity,
            CancellationToken closed, CancellationToken closeRequested, Action? ended, DedicatedSocketStream? socket = null)
        {
            _socket = socket;
            _server = server;
            _input = input;
            _output = output;
            _closed = closed;
            _closeRequested = closeRequested;
            _ended = ended;
            _peer = peer;
            _remote = remote;
            _activity = activity;
        }

        /// <summary>
        /// Serves the connection until it ends: true when the caller is still there (the server said goaway), so the
        /// connection's owner reads until it hangs up before closing, false when it is gone.
        /// </summary>
        public async Task<bool> RunAsync()
        {
            // The server stopping asks every connection to close; an idle one is closed here too. Both stop the reader
            // at a frame boundary (CancelPendingRead loses no bytes), so the goaway names the last call read.
            using var onClose = _closeRequested.Register(() => Stop("the server is stopping"));
            _server.Watch(this);
            try
            {
                return await ServeAsync(_input, _closed);
            }
            finally
            {
                _server.Unwatch(this);
            }
        }

        /// <summary>Closes the connection (with a goaway) when it has been idle for <paramref name="timeout"/>.</summary>
        public void StopIfIdle(TimeSpan timeout)
        {
            if (_activity.IdleFor >= timeout) Stop("idle");
        }

        private async Task<bool> ServeAsync(PipeReader input, CancellationToken closed)
        {
            uint lastRead = 0;
            var clientGone = false;
            try
            {
                while (_stopReason is null)
                {
                    var result = await input.ReadAsync(closed);
                    var buffer = result.Buffer;
                    while (_stopReason is null)
                    {
                        var frame = Parse(buffer, closed);
                        if (frame.Length == 0) break;
                        if (frame.Id != 0) lastRead = frame.Id;
                        buffer = buffer.Slice(frame.Length);
                        if (frame.Start is { } start)
                        {
                            // A reader of its own blocks here rather than let its loop go on on a pool thread.
                            if (_socket is not null) _slots.Wait(closed);
                            else await _slots.WaitAsync(closed);
                            _activity.Begin();
                            if (start.AnswerThen is { } answerThen)
                            {
                                // Runs to its end here, before the loop goes on and before AdvanceTo: its request
                                // may be the pipe's own bytes (see Parse).
                                RunAnswerThen(frame.Id, start.Context, start.Request, start.Rented, answerThen, closed);
                                continue;
                            }
                            var key = frame.Id != 0 ? frame.Id : -++_posts;
                            var running = RunHandlerAsync(frame.Id, key, start, closed);
                            // An inline handler has usually answered by now (and removed itself): nothing to wait for.
                            if (!start.Inline || !running.IsCompleted) _running[key] = running;
                        }
                    }
                    input.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        clientGone = true;
                        break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ConnectionResetException or ObjectDisposedException or InvalidOperationException)
            {
                // A blocking receive that a stop interrupted (Stop) is not the caller going.
                clientGone = !(_socket is { Interrupted: true } && _stopReason is not null && !closed.IsCancellationRequested);
            }
            if (clientGone) _ended?.Invoke();
            if (!clientGone) Send(new Outgoing(LeanWire.GoAway, lastRead, CallFailure.None, null));
            try
            {
                await Task.WhenAll(_running.Values);
            }
            catch
            {
                // Each handler's failure was answered (or the connection is gone).
            }
            // Every handler has queued its answer; whoever writes them may still be at it.
            while (!_outputBroken && (!_outgoing.IsEmpty || Volatile.Read(ref _writing) != 0))
            {
                await WriteQueuedAsync();
                if (Volatile.Read(ref _writing) != 0) await Task.Delay(1, CancellationToken.None);
            }
            // The wait for the caller to hang up is the owner's (LeanServer.Serve, ServeAsync): this may be the pool
            // thread where the last handler finished.
            return !clientGone;
        }

        /// <summary>Stops reading at the next frame boundary: a goaway names the last call read, and those are answered.</summary>
        public void Stop(string reason)
        {
            if (_stopReason is not null) return;
            _stopReason = reason;
            _input.CancelPendingRead();
            // A blocking receive hears no CancelPendingRead: it looks at this at its next tick.
            _socket?.Interrupt();
        }

        /// <param name="Request">
        /// An array of its own for a handler that may outlive the reader's pass over the frame; for an answer-then
        /// handler, which runs to its end on the reader before the pipe is advanced, the pipe's own bytes (or
        /// <paramref name="Rented"/>, a pooled copy, when the body spans two of the pipe's segments).
        /// </param>
        private readonly record struct HandlerStart(UnaryHandler Handler, PeerContext Context, ReadOnlyMemory<byte> Request, byte[]? Rented, TimeSpan Deadline, bool Inline, AnswerThenHandler? AnswerThen);

        /// <summary>What the frame at the start of a buffer asks for; Length 0 while it is not all there.</summary>
        private readonly record struct Frame(long Length, uint Id, HandlerStart? Start);

        /// <summary>
        /// Reads the frame at the start of <paramref name="buffer"/> when it is all there, answers at once what needs
        /// no handler (pings, refusals, unknown protocols, oversized calls), and says which handler to start otherwise.
        /// </summary>
        private Frame Parse(ReadOnlySequence<byte> buffer, CancellationToken closed)
        {
            if (buffer.Length < LeanWire.ControlSize) return default;
            // The frame's head and the call's header on the stack: this runs for every call (docs/benchmarks.md,
            // allocations per commit round).
            Span<byte> head = stackalloc byte[7];
            buffer.Slice(0, Math.Min(7, buffer.Length)).CopyTo(head);
            var kind = head[0];
            if (kind == LeanWire.Ping)
            {
                Send(new Outgoing(LeanWire.Pong, BinaryPrimitives.ReadUInt32BigEndian(head[1..]), CallFailure.None, null));
                return new Frame(LeanWire.ControlSize, 0, null);
            }
            if (kind != LeanWire.Call)
            {
                _stopReason = $"unknown frame kind {kind}";
                return default;
            }
            if (buffer.Length < 7) return default;
            var id = BinaryPrimitives.ReadUInt32BigEndian(head[1..]);
            var idLength = BinaryPrimitives.ReadUInt16BigEndian(head[5..]);
            if (idLength is 0 or > LeanWire.MaxProtocolIdBytes)
            {
                Answer(id, CallFailure.BadRequest, $"protocol id of {idLength} bytes");
                _stopReason = "malformed call";
                return default;
            }
            if (buffer.Length < LeanWire.CallHeaderFixed + idLength) return default;
            Span<byte> header = stackalloc byte[LeanWire.MaxProtocolIdBytes + 8];
            header = header[..(idLength + 8)];
            buffer.Slice(7, idLength + 8).CopyTo(header);
            var deadlineMs = BinaryPrimitives.ReadUInt32BigEndian(header[idLength..]);
            var length = BinaryPrimitives.ReadUInt32BigEndian(header[(idLength + 4)..]);
            var protocolId = ProtocolIdOf(header[..idLength]);
            if (length > LeanWire.MaxRequestBytes)
            {
                // A caller never sends this much here; the bytes are not read, so the connection cannot go on.
                var tooLarge = new Framing.FrameException(Framing.FrameError.TooLarge, $"a call of {length} bytes exceeds the lean path's bound of {LeanWire.MaxRequestBytes}");
                _server._logFailure(Context(protocolId), tooLarge, closed);
                Answer(id, CallFailure.TooLarge, tooLarge.Message);
                _stopReason = "oversized call";
                return default;
            }
            var frameLength = LeanWire.CallHeaderFixed + idLength + length;
            if (buffer.Length < frameLength) return default;

            if (!_server._admission.IsAdmitted(_peer))
            {
                _server._refusals.Refused(LogLevel.Warning, "requests refused (not an admitted member)", _remote is null ? "?" : AddressKey.Of(_remote.Address).ToString(),
                    "refused {Peer} from {Remote} for {Path}: {Reason}; closing the connection", _peer.Hex, _remote?.Address, protocolId, "not an admitted member");
                Answer(id, CallFailure.Refused, "not an admitted member");
                _stopReason = "not an admitted member";
                return new Frame(frameLength, id, null);
            }
            if (_server._protocols.Find(protocolId) is not { Unary: { } handler } registration || registration.OpenToNonMembers)
            {
                Answer(id, CallFailure.UnknownProtocol, $"protocol {protocolId} is not served on the lean path here");
                return new Frame(frameLength, id, null);
            }
            if (length > (uint)registration.MaxRequestBytes)
            {
                var tooLarge = new Framing.FrameException(Framing.FrameError.TooLarge, $"frame of {length} bytes exceeds the bound of {registration.MaxRequestBytes}");
                _server._logFailure(Context(protocolId), tooLarge, closed);
                Answer(id, CallFailure.TooLarge, tooLarge.Message);
                return new Frame(frameLength, id, null);
            }
            var body = buffer.Slice(LeanWire.CallHeaderFixed + idLength, length);
            ReadOnlyMemory<byte> request;
            byte[]? rented = null;
            if (registration.AnswerThen is null)
            {
                // Copied: this handler may run (or finish) after the reader has advanced the pipe past its frame, and
                // a request is lent to it until its task completes.
                request = body.ToArray();
            }
            else if (body.IsSingleSegment)
            {
                // Lent as it is (no copy: the lease calls' bodies, about 2.2 KB per commit round on a follower, were
                // copied here): an answer-then handler runs to its end, Then included, before the reader goes on
                // (RunAnswerThen), and the pipe keeps these bytes until AdvanceTo, which comes after that.
                request = body.First;
            }
            else
            {
                // Spans two segments: one contiguous copy, in a pooled array returned once the handler has finished.
                rented = ArrayPool<byte>.Shared.Rent((int)length);
                body.CopyTo(rented);
                request = rented.AsMemory(0, (int)length);
            }
            var deadline = TimeSpan.FromMilliseconds(Math.Min(deadlineMs, (long)WireHeaders.MaxDeadline.TotalMilliseconds));
            return new Frame(frameLength, id, new HandlerStart(handler, Context(registration.ProtocolId), request, rented, deadline, registration.Inline || registration.AnswerThen is not null, registration.AnswerThen));
        }

        /// <summary>
        /// Runs one handler and answers it, unless it is a post (call id 0: see <see cref="LeanWire"/>), which gets no
        /// answer, not even a failure (that is only logged).
        /// </summary>
        private async Task RunHandlerAsync(uint id, long key, HandlerStart start, CancellationToken closed)
        {
            var (handler, context, request, _, deadline, inline, _) = start;
            var began = System.Diagnostics.Stopwatch.GetTimestamp();
            // Off the reader loop at once, unless registered inline: a handler that runs synchronously must not hold up
            // the calls behind it.
            if (!inline) await Task.Yield();
            try
            {
                using var timer = CancellationTokenSource.CreateLinkedTokenSource(closed);
                var token = timer.Token;
                try
                {
                    var pending = handler(context, request, token);
                    // The deadline's timer is armed only for a handler that did not finish at once, for the time left:
                    // most handlers here (SWIM, lease) answer synchronously, and a timer armed and dropped per call
                    // still wakes the timer thread when it was due.
                    if (!pending.IsCompleted)
                    {
                        var left = deadline - System.Diagnostics.Stopwatch.GetElapsedTime(began);
                        if (left > TimeSpan.Zero) timer.CancelAfter(left);
                        else timer.Cancel();
                    }
                    var answer = await pending;
                    if (id != 0) await SendAsync(new Outgoing(LeanWire.Answer, id, CallFailure.None, answer));
                    TransportMetrics.Exchanged(_peer, context.ProtocolId, answer.Length, request.Length);
                }
                catch (Exception e) when (!closed.IsCancellationRequested)
                {
                    HandlerFailed(id, context, e, token);
                }
            }
            catch (Exception)
            {
                // The connection is gone: nobody to answer.
            }
            finally
            {
                _running.TryRemove(key, out _);
                _activity.End();
                _slots.Release();
            }
        }

        /// <summary>
        /// A handler threw: logged, answered with what it means (a post is answered only when it refused the caller),
        /// and a refusal ends the connection.
        /// </summary>
        private void HandlerFailed(uint id, PeerContext context, Exception e, CancellationToken token)
        {
            _server._logFailure(context, e, token);
            var (failure, detail) = PeerServer.Classify(e, token);
            if (id != 0 || failure == CallFailure.Refused) Answer(id, failure, detail);
            if (failure == CallFailure.Refused) Stop("a handler refused the caller");
        }

        /// <summary>
        /// Runs an answer-then handler and answers it, on the reader, to its end: synchronous (not async) so that
        /// nothing of it can run after the reader goes on and advances the pipe, whose bytes its request may be. It
        /// gets the connection's token as it is, no deadline armed (it never waits).
        /// </summary>
        private void RunAnswerThen(uint id, PeerContext context, ReadOnlyMemory<byte> request, byte[]? rented, AnswerThenHandler handler, CancellationToken closed)
        {
            try
            {
                try
                {
                    AnswerThenRun(id, context, request, handler, closed);
                }
                catch (Exception e) when (!closed.IsCancellationRequested)
                {
                    HandlerFailed(id, context, e, closed);
                }
            }
            catch (Exception)
            {
                // The connection is gone: nobody to answer.
            }
            finally
            {
                if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
                _activity.End();
                _slots.Release();
            }
        }

        /// <summary>
        /// Runs a handler that answers before it finishes: its answer is queued and written (from this thread when
        /// nobody else is writing, as any answer), and only then does the rest of its work run, here. That work does not
        /// wait for a write another thread finishes: the answer is queued before it, and its order is all it needs.
        /// </summary>
        private void AnswerThenRun(uint id, PeerContext context, ReadOnlyMemory<byte> request, AnswerThenHandler handler, CancellationToken ct)
        {
            var (answer, then) = handler(context, request, ct);
            if (id != 0) Send(new Outgoing(LeanWire.Answer, id, CallFailure.None, answer));
            TransportMetrics.Exchanged(_peer, context.ProtocolId, answer.Length, request.Length);
            if (then is null) return;
            try
            {
                then();
            }
            catch (Exception e)
            {
                // The caller has its answer: nothing to tell it; the failure is the handler's to report.
                _server._logFailure(context, e, ct);
            }
        }

        private void Answer(uint id, CallFailure failure, string reason) =>
            Send(new Outgoing(LeanWire.Answer, id, failure, LeanWire.Reason(reason)));

        private void Send(Outgoing item) => _ = SendAsync(item);

        private Task SendAsync(Outgoing item)
        {
            _outgoing.Enqueue(item);
            return WriteQueuedAsync();
        }

        private PeerContext Context(string protocolId)
        {
            // One context per protocol and connection, made once: it says who calls, over what, and never changes.
            if (_lastContext is { } last && string.Equals(last.ProtocolId, protocolId, StringComparison.Ordinal)) return last;
            return _lastContext = new PeerContext(_peer, true, _remote, protocolId, WireHeaders.Lean);
        }

        /// <summary>
        /// The protocol id a call names, as a string: the previous call's when the bytes are the same (a connection
        /// mostly carries one protocol: lease calls, or SWIM), so a run of calls decodes it once.
        /// </summary>
        private string ProtocolIdOf(ReadOnlySpan<byte> bytes)
        {
            if (_lastProtocolId is { } last && bytes.SequenceEqual(_lastProtocolIdBytes)) return last;
            _lastProtocolIdBytes = bytes.ToArray();
            return _lastProtocolId = Encoding.UTF8.GetString(bytes);
        }

        private byte[] _lastProtocolIdBytes = [];
        private string? _lastProtocolId;
        private PeerContext? _lastContext;

        /// <summary>
        /// Writes whatever is queued and flushes once. The handler that finds nobody writing does it (a flush of a few
        /// bytes completes at once, so the answer leaves from the handler's own thread); one that finds it taken leaves
        /// its answer to the writer, who looks at the queue again before it lets go.
        /// </summary>
        private async Task WriteQueuedAsync()
        {
            var output = _output;
            while (!_outgoing.IsEmpty && !_outputBroken && Interlocked.CompareExchange(ref _writing, 1, 0) == 0)
            {
                try
                {
                    while (_outgoing.TryDequeue(out var item))
                    {
                        if (item.Kind == LeanWire.Answer) LeanWire.WriteAnswer(output, item.Id, item.Status, item.Body);
                        else LeanWire.WriteControl(output, item.Kind, item.Id);
                    }
                    var flushed = await output.FlushAsync(_closed);
                    if (flushed.IsCompleted || flushed.IsCanceled) Broken();
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or ConnectionResetException or ObjectDisposedException or InvalidOperationException)
                {
                    // The caller hung up: its calls end with the connection.
                    Broken();
                }
                finally
                {
                    Volatile.Write(ref _writing, 0);
                }
            }
            if (_outputBroken) _outgoing.Clear();
        }

        private void Broken()
        {
            _outputBroken = true;
            _ended?.Invoke();
        }
    }
}
