using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DinoMesh.Transport.Bulk;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Lean;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Bulk and lean connections taken past Kestrel: the listener hands over a socket whose ClientHello offers only the
/// bulk or only the lean ALPN id (<see cref="PeerListener"/>), and this class runs its TLS handshake over the socket
/// (<see cref="BulkSocketStream"/>) and serves it with <see cref="BulkServer"/> or <see cref="LeanServer"/>. Through
/// Kestrel's socket transport every received byte came 4 KiB per <c>recv</c> (its memory pool's block), each after a
/// one-byte peek, and then went through the connection's pipe into the TLS stream and out of it through a second pipe,
/// and every answer back through two pipes; here the socket is read up to 64 KiB per <c>recv</c>, with no peek, and
/// the TLS stream is read and written by the server's own loop. Everything else is as on Kestrel's path: TLS 1.3 with
/// a required client certificate (<see cref="ServerTls"/>), members only (a stranger is refused after the handshake, a
/// lean one with a refusal and a goaway that says nothing was read, so it asks again over HTTP/2 and learns why), the
/// connection caps of <see cref="ConnectionGate"/> (the ticket taken at accept travels with the socket), the handshake bounded by
/// <see cref="TransportOptions.ConnectTimeout"/>, the first request by <see cref="ConnectionLimits.FirstRequestTimeout"/>,
/// and on <see cref="StopAsync"/> idle bulk connections close at once, lean ones say goaway, and calls in flight get
/// a grace period.
/// </summary>
internal sealed class DirectConnections
{
    private readonly BulkServer? _bulk;
    private readonly LeanServer? _lean;
    private readonly IAdmission _admission;
    private readonly RefusalLog _refusals;
    private readonly ILogger _log;
    private readonly TimeSpan _handshakeTimeout;
    private readonly TimeSpan _firstRequestTimeout;
    private readonly SslServerAuthenticationOptions _tls;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _aborting = new();
    private readonly ConcurrentDictionary<Task, bool> _running = new();
    private long _servedBulk;
    private long _servedLean;
    private long _handshakes;

    /// <param name="bulk">Serves bulk connections; null to leave them to Kestrel.</param>
    /// <param name="lean">Serves lean connections; null to leave them to Kestrel.</param>
    private readonly DedicatedReaders? _readers;
    private long _servedLeanOnThreads;
    // Threads held by connections from addresses no member is known at, still in their TLS handshake or admission
    // check: a stranger that sends a ClientHello and stalls holds one for the handshake's bound. At most a quarter of
    // the readers' budget, so strangers never take the threads members' connections are read by; past it such a
    // connection is served on the asynchronous path (and keeps it if it turns out to be a member).
    private readonly int _maxUnvettedOnThreads;
    private int _unvettedOnThreads;

    /// <param name="readers">Threads that may each read a lean connection of their own; null to read every one asynchronously.</param>
    public DirectConnections(BulkServer? bulk, LeanServer? lean, NodeIdentity identity, IAdmission admission, RefusalLog refusals, ILogger log, TimeSpan handshakeTimeout, TimeSpan firstRequestTimeout,
        DedicatedReaders? readers = null)
    {
        _readers = readers;
        _maxUnvettedOnThreads = Math.Max(1, (readers?.Budget ?? 0) / 4);
        _bulk = bulk;
        _lean = lean;
        _admission = admission;
        _refusals = refusals;
        _log = log;
        _handshakeTimeout = handshakeTimeout;
        _firstRequestTimeout = firstRequestTimeout;
        Alpns = [.. bulk is null ? [] : new[] { BulkWire.Alpn }, .. lean is null ? [] : new[] { LeanWire.Alpn }];
        _tls = ServerTls.Direct(identity, Alpns);
    }

    /// <summary>The ALPN ids whose connections this class takes (when a ClientHello offers one of them and nothing else).</summary>
    public SslApplicationProtocol[] Alpns { get; }

    /// <summary>TLS handshakes completed here (not by Kestrel), admitted or not, since the start.</summary>
    public long Handshakes => Interlocked.Read(ref _handshakes);

    /// <summary>Bulk connections that got past their handshake and admission here (not through Kestrel), since the start.</summary>
    public long ServedBulk => Interlocked.Read(ref _servedBulk);

    /// <summary>Lean connections that got past their handshake and admission here (not through Kestrel), since the start.</summary>
    public long ServedLean => Interlocked.Read(ref _servedLean);

    /// <summary>Lean connections of those read by a thread of their own (<see cref="DedicatedReaders"/>), since the start.</summary>
    public long ServedLeanOnThreads => Interlocked.Read(ref _servedLeanOnThreads);

    /// <summary>Takes over <paramref name="socket"/> and its <paramref name="ticket"/>; both are released when the connection ends.</summary>
    /// <param name="unregistered">
    /// Nothing asynchronous was done on the socket yet (<see cref="DedicatedSocketStream.IsUnregistered"/>): a lean
    /// connection may then be read by a thread of its own, handshake and all.
    /// </param>
    public void Serve(Socket socket, ConnectionTicket ticket, SslApplicationProtocol offered, bool unregistered = false)
    {
        if (_stopping.IsCancellationRequested)
        {
            ticket.Dispose();
            socket.Dispose();
            return;
        }
        var lean = offered == LeanWire.Alpn;
        var unvetted = !ticket.FromMemberAddress;
        if (lean && unregistered && _lean is not null && _readers is not null && TakeThreadRoom(unvetted))
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_readers.TryStart("dino-lean-in", () => ServeOnThread(socket, ticket, done, unvetted)))
            {
                Track(done.Task);
                return;
            }
            if (unvetted) Interlocked.Decrement(ref _unvettedOnThreads);
        }
        Track(Task.Run(() => ServeAsync(socket, ticket, lean)));
    }

    /// <summary>Room for one more connection on a thread before its handshake: always for one from a member's address.</summary>
    private bool TakeThreadRoom(bool unvetted)
    {
        if (!unvetted) return true;
        if (Interlocked.Increment(ref _unvettedOnThreads) <= _maxUnvettedOnThreads) return true;
        Interlocked.Decrement(ref _unvettedOnThreads);
        return false;
    }

    private void Track(Task serving)
    {
        _running[serving] = true;
        serving.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, bool>)state!).TryRemove(t, out _), _running, TaskScheduler.Default);
    }

    /// <summary>
    /// A lean connection served on the thread it was given (<see cref="DedicatedReaders"/>): the TLS handshake blocks it,
    /// then <see cref="LeanServer"/>'s session reads the connection with blocking receives, so nothing of it ever goes
    /// through the runtime's epoll thread. The same rules as <see cref="ServeAsync"/>. The thread is held only for what
    /// is bounded and short: the handshake (<see cref="TransportOptions.ConnectTimeout"/>) and a member's session. An
    /// admission check that has to wait (a peer not known yet that presents a later log version: up to 5-10 s, see
    /// <see cref="IAdmission.CheckAsync"/>, cut short if the peer hangs up: <see cref="HangUpWatch"/>) and a refusal (which reads until the caller hangs up, up to
    /// <see cref="LeanServer.DrainTimeout"/>) go on without a thread (<see cref="AfterCheckAsync"/>): before
    /// 2026-12-06 both ran here, so strangers with a certificate held reader threads for seconds each.
    /// </summary>
    /// <param name="unvetted">The connection holds one of the threads for addresses no member is known at, until its admission is decided.</param>
    private void ServeOnThread(Socket socket, ConnectionTicket ticket, TaskCompletionSource done, bool unvetted)
    {
        void Vetted()
        {
            if (!unvetted) return;
            unvetted = false;
            Interlocked.Decrement(ref _unvettedOnThreads);
        }

        var remote = socket.RemoteEndPoint as IPEndPoint;
        var stream = new DedicatedSocketStream(socket);
        var connection = new OnThread(stream, new SslStream(stream, leaveInnerStreamOpen: false), ticket, done, ticket.Address.ToString(), remote);
        var handedOver = false;
        try
        {
            // The handshake's bound, whole: each receive is bounded too, but a peer could trickle bytes.
            using (new Timer(static state => ((Stream)state!).Dispose(), stream, _handshakeTimeout, Timeout.InfiniteTimeSpan))
            using (_aborting.Token.Register(static state => ((Stream)state!).Dispose(), stream))
            {
                stream.Handshaking = true;
                stream.BoundReceives(_handshakeTimeout);
                connection.Tls.AuthenticateAsServer(_tls);
                stream.Handshaking = false;
            }
            stream.BoundReceives(DedicatedSocketStream.Tick);
            Interlocked.Increment(ref _handshakes);
            if (connection.Tls.NegotiatedApplicationProtocol != LeanWire.Alpn) return;
            var peer = connection.Tls.RemoteCertificate is { } certificate ? PeerCertificate.PeerIdOf(certificate) : default;
            var hangUp = new HangUpWatch(socket, _aborting.Token);
            var check = peer.IsEmpty
                ? ValueTask.FromResult(AdmissionVerdict.No(AdmissionVerdict.NotAdmitted))
                : _admission.CheckAsync(peer, AdmissionHint.FromServerName(connection.Tls.TargetHostName), hangUp.Token);
            if (!check.IsCompletedSuccessfully)
            {
                // The check waits (for this node's log to reach the version the peer presents): not on this thread,
                // and no longer than the peer stays.
                hangUp.Start();
                Vetted();
                handedOver = true;
                Track(AfterCheckAsync(check, hangUp, connection, peer));
                return;
            }
            hangUp.Dispose();
            var gate = PassGate(ticket, peer, check.Result, "lean", connection.From);
            Vetted();
            if (gate == Gate.NotAdmitted)
            {
                // The refusal reads until the caller hangs up: not on this thread either.
                handedOver = true;
                Track(RefuseOffThreadAsync(connection));
                return;
            }
            if (gate != Gate.Pass) return;
            ServeSession(connection, peer);
        }
        catch (Exception e)
        {
            LogEnded(e, "lean (own thread)", connection.From);
        }
        finally
        {
            Vetted();
            if (!handedOver) connection.End();
        }
    }

    /// <summary>
    /// The rest of a lean connection taken on a thread of its own whose admission check had to wait: it waits without a
    /// thread; then an admitted peer is served on a new thread of its own (its socket is still untouched by the
    /// runtime's epoll thread), or asynchronously when none is free; anyone else is refused asynchronously.
    /// </summary>
    /// <param name="hangUp">Cancels the check when the peer hangs up; disposed here once it is decided.</param>
    private async Task AfterCheckAsync(ValueTask<AdmissionVerdict> check, HangUpWatch hangUp, OnThread connection, Core.Identity.PeerId peer)
    {
        var ownsConnection = true;
        try
        {
            AdmissionVerdict verdict;
            using (hangUp) verdict = await check;
            var gate = PassGate(connection.Ticket, peer, verdict, "lean", connection.From);
            if (gate == Gate.NotAdmitted)
            {
                ownsConnection = false;
                await RefuseOffThreadAsync(connection);
                return;
            }
            if (gate != Gate.Pass) return;
            if (_readers!.TryStart("dino-lean-in", () => ServeSessionThenEnd(connection, peer)))
            {
                ownsConnection = false;
                return;
            }
            connection.Stream.GoAsynchronous();
            Interlocked.Increment(ref _servedLean);
            await _lean!.ServeAsync(connection.Tls, peer, connection.Remote, new ConnectionActivity(), _aborting.Token, _stopping.Token, _firstRequestTimeout);
        }
        catch (Exception e)
        {
            LogEnded(e, "lean (after its admission check)", connection.From);
        }
        finally
        {
            if (ownsConnection) connection.End();
        }
    }

    /// <summary>A refused lean connection (see <see cref="LeanServer.RefuseAsync(Stream, CancellationToken)"/>), told and drained without a thread; ends it.</summary>
    private async Task RefuseOffThreadAsync(OnThread connection)
    {
        try
        {
            connection.Stream.GoAsynchronous();
            await LeanServer.RefuseAsync(connection.Tls, _aborting.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            _log.LogDebug("{Path} connection from {Remote} ended: {Reason}", "lean (refused)", connection.From, e.Message);
        }
        finally
        {
            connection.End();
        }
    }

    private void ServeSessionThenEnd(OnThread connection, Core.Identity.PeerId peer)
    {
        try
        {
            ServeSession(connection, peer);
        }
        catch (Exception e)
        {
            LogEnded(e, "lean (own thread)", connection.From);
        }
        finally
        {
            connection.End();
        }
    }

    /// <summary>
    /// How a connection's end is logged: a handshake that failed or timed out, a caller gone or a stop is routine (nothing
    /// to answer, as Kestrel would not), anything else is a defect worth an error.
    /// </summary>
    private void LogEnded(Exception e, string path, string from)
    {
        if (e is IOException or AuthenticationException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            _log.LogDebug("{Path} connection from {Remote} ended: {Reason}", path, from, e.Message);
        }
        else
        {
            _log.LogError(e, "{Path} connection from {Remote} failed", path, from);
        }
    }

    /// <summary>An admitted member's session, read by the calling thread (a thread of its own) until the connection ends.</summary>
    private void ServeSession(OnThread connection, Core.Identity.PeerId peer)
    {
        Interlocked.Increment(ref _servedLean);
        Interlocked.Increment(ref _servedLeanOnThreads);
        // Every await of the session's reading completes at once over this stream, so it runs here, to its end.
        _lean!.Serve(connection.Tls, peer, connection.Remote, new ConnectionActivity(), _aborting.Token, _stopping.Token, _firstRequestTimeout, connection.Stream);
    }

    /// <summary>A lean connection taken on a thread of its own, and what ends it (once, by whoever serves it last).</summary>
    private sealed record OnThread(DedicatedSocketStream Stream, SslStream Tls, ConnectionTicket Ticket, TaskCompletionSource Done, string From, IPEndPoint? Remote)
    {
        public void End()
        {
            Tls.Dispose();
            Ticket.Dispose();
            Done.TrySetResult();
        }
    }

    /// <param name="leanOffered">The ClientHello offered the lean ALPN id (not the bulk one): a smaller receive buffer will do.</param>
    private async Task ServeAsync(Socket socket, ConnectionTicket ticket, bool leanOffered)
    {
        var remote = socket.RemoteEndPoint as IPEndPoint;
        var from = ticket.Address.ToString();
        var tls = new SslStream(new BulkSocketStream(socket, leanOffered ? BulkSocketStream.LeanReceiveBytes : BulkSocketStream.ReceiveBytes), leaveInnerStreamOpen: false);
        var path = "TLS";
        try
        {
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(_aborting.Token))
            {
                handshake.CancelAfter(_handshakeTimeout);
                await tls.AuthenticateAsServerAsync(_tls, handshake.Token);
            }
            Interlocked.Increment(ref _handshakes);
            var alpn = tls.NegotiatedApplicationProtocol;
            var lean = _lean is not null && alpn == LeanWire.Alpn;
            var bulk = _bulk is not null && alpn == BulkWire.Alpn;
            if (!lean && !bulk) return; // the listener routes only a ClientHello that offers one of ours: not reached
            path = lean ? "lean" : "bulk";
            var peer = tls.RemoteCertificate is { } certificate ? PeerCertificate.PeerIdOf(certificate) : default;
            // As on Kestrel's path (ConnectionWatch): a peer not known yet that presents its admission version waits for this node's log.
            var admission = peer.IsEmpty ? AdmissionVerdict.No(AdmissionVerdict.NotAdmitted) : await CheckAsync(socket, peer, AdmissionHint.FromServerName(tls.TargetHostName));
            var gate = PassGate(ticket, peer, admission, path, from);
            // A lean caller is told it is refused and that nothing was read, so it tries HTTP/2 at once whatever its protocol.
            if (gate == Gate.NotAdmitted && lean) await LeanServer.RefuseAsync(tls, _aborting.Token);
            if (gate != Gate.Pass) return;
            if (lean)
            {
                Interlocked.Increment(ref _servedLean);
                await _lean!.ServeAsync(tls, peer, remote, new ConnectionActivity(), _aborting.Token, _stopping.Token, _firstRequestTimeout);
            }
            else
            {
                Interlocked.Increment(ref _servedBulk);
                await _bulk!.ServeAsync(tls, tls, peer, remote, new ConnectionActivity(), _aborting.Token, _stopping.Token, _firstRequestTimeout);
            }
        }
        catch (Exception e)
        {
            LogEnded(e, path, from);
        }
        finally
        {
            await tls.DisposeAsync();
            ticket.Dispose();
        }
    }

    /// <summary>The admission check of a connection on the asynchronous path, cancelled if its peer hangs up while it waits.</summary>
    private async ValueTask<AdmissionVerdict> CheckAsync(Socket socket, Core.Identity.PeerId peer, long presented)
    {
        using var hangUp = new HangUpWatch(socket, _aborting.Token);
        var check = _admission.CheckAsync(peer, presented, hangUp.Token);
        if (!check.IsCompleted) hangUp.Start();
        return await check;
    }

    private enum Gate
    {
        Pass,
        OverCap,
        NotAdmitted,
    }

    /// <summary>
    /// The checks after a handshake, the same on both paths: the connection caps (the ticket learns whether its peer is
    /// a member), then members only, as on Kestrel's path (a stranger's only business here is the join protocol, over
    /// HTTP/2). A refusal is logged here; what the refused caller is told is the path's business.
    /// </summary>
    private Gate PassGate(ConnectionTicket ticket, Core.Identity.PeerId peer, AdmissionVerdict admission, string path, string from)
    {
        var who = peer.IsEmpty ? "(no identity)" : peer.Short;
        if (!ticket.Identify(admission.Admitted, out var full))
        {
            _refusals.Refused(LogLevel.Warning, "connections refused (over a connection cap)", from,
                "refused a connection of {Peer} from {Remote}: {Reason}", who, from, full);
            return Gate.OverCap;
        }
        if (admission.Admitted) return Gate.Pass;
        _refusals.Refused(LogLevel.Warning, $"connections refused ({path} path, not an admitted member)", from,
            "refused a {Path} connection of {Peer} from {Remote}: {Reason}", path, who, from, admission.Reason);
        return Gate.NotAdmitted;
    }

    /// <summary>
    /// No new connection is served; idle bulk connections close at once, lean ones say goaway (and answer the calls
    /// they read); calls in flight get <paramref name="grace"/> to finish, then every connection still open is cut.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        await _stopping.CancelAsync();
        var running = _running.Keys.ToArray();
        if (running.Length == 0) return;
        var all = Task.WhenAll(running);
        if (await Task.WhenAny(all, Task.Delay(grace)) != all) await _aborting.CancelAsync();
        try
        {
            await all;
        }
        catch (Exception e)
        {
            _log.LogDebug("connections past Kestrel ended with {Error} at stop", e.Message);
        }
    }
}
