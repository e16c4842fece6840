using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using DinoMesh.Transport.Bulk;
using DinoMesh.Transport.Identity;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Bulk connections taken past Kestrel: the listener hands over a socket whose ClientHello offers only the bulk ALPN id
/// (<see cref="PeerListener"/>), and this class runs its TLS handshake over the socket (<see cref="BulkSocketStream"/>)
/// and serves it with <see cref="BulkServer"/>. Through Kestrel's socket transport every received byte came 4 KiB per
/// <c>recv</c> (its memory pool's block), each after a one-byte peek, and then went through the connection's pipe
/// into the TLS stream; here the socket is read up to 64 KiB per <c>recv</c>, with no peek and no pipe. Everything
/// else is as on Kestrel's path: TLS 1.3 with a required client certificate, members only (a stranger is cut after
/// the handshake), the connection caps of <see cref="ConnectionGate"/> (the ticket taken at accept travels with the
/// socket), the handshake bounded by <see cref="TransportOptions.ConnectTimeout"/>, the first request by
/// <see cref="ConnectionLimits.FirstRequestTimeout"/>, and on <see cref="StopAsync"/> idle connections close at once
/// while a call in flight gets a grace period.
/// </summary>
internal sealed class BulkConnections
{
    private readonly BulkServer _server;
    private readonly IAdmission _admission;
    private readonly RefusalLog _refusals;
    private readonly ILogger _log;
    private readonly TimeSpan _handshakeTimeout;
    private readonly TimeSpan _firstRequestTimeout;
    private readonly SslServerAuthenticationOptions _tls;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _aborting = new();
    private readonly ConcurrentDictionary<Task, bool> _running = new();
    private long _served;

    public BulkConnections(BulkServer server, NodeIdentity identity, IAdmission admission, RefusalLog refusals, ILogger log, TimeSpan handshakeTimeout, TimeSpan firstRequestTimeout)
    {
        _server = server;
        _admission = admission;
        _refusals = refusals;
        _log = log;
        _handshakeTimeout = handshakeTimeout;
        _firstRequestTimeout = firstRequestTimeout;
        _tls = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(identity.Certificate, null, offline: true),
            EnabledSslProtocols = SslProtocols.Tls13,
            ClientCertificateRequired = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            // Self-signed by design, as on Kestrel's path: who the caller is, and whether it is admitted, is decided from its key.
            RemoteCertificateValidationCallback = static (_, certificate, _, _) => certificate is not null,
            ApplicationProtocols = [BulkWire.Alpn],
        };
    }

    /// <summary>Connections that got past their handshake and admission here (not through Kestrel), since the start.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Takes over <paramref name="socket"/> and its <paramref name="ticket"/>; both are released when the connection ends.</summary>
    public void Serve(Socket socket, ConnectionTicket ticket)
    {
        if (_stopping.IsCancellationRequested)
        {
            ticket.Dispose();
            socket.Dispose();
            return;
        }
        var serving = Task.Run(() => ServeAsync(socket, ticket));
        _running[serving] = true;
        serving.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, bool>)state!).TryRemove(t, out _), _running, TaskScheduler.Default);
    }

    private async Task ServeAsync(Socket socket, ConnectionTicket ticket)
    {
        var remote = socket.RemoteEndPoint as IPEndPoint;
        var from = ticket.Address.ToString();
        var tls = new SslStream(new BulkSocketStream(socket), leaveInnerStreamOpen: false);
        try
        {
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(_aborting.Token))
            {
                handshake.CancelAfter(_handshakeTimeout);
                await tls.AuthenticateAsServerAsync(_tls, handshake.Token);
            }
            var peer = tls.RemoteCertificate is { } certificate ? PeerCertificate.PeerIdOf(certificate) : default;
            // As on Kestrel's path (ConnectionWatch): a peer not known yet that presents its admission version waits for this node's log.
            var admission = peer.IsEmpty ? AdmissionVerdict.No(AdmissionVerdict.NotAdmitted) : await _admission.CheckAsync(peer, AdmissionHint.FromServerName(tls.TargetHostName), _aborting.Token);
            var admitted = admission.Admitted;
            if (!ticket.Identify(admitted, out var full))
            {
                _refusals.Refused(LogLevel.Warning, "connections refused (over a connection cap)", from,
                    "refused a connection of {Peer} from {Remote}: {Reason}", peer.IsEmpty ? "(no identity)" : peer.Short, from, full);
                return;
            }
            if (!admitted)
            {
                // Members only, as on Kestrel's path: a stranger's only business here is the join protocol, over HTTP/2.
                _refusals.Refused(LogLevel.Warning, "connections refused (bulk path, not an admitted member)", from,
                    "refused a {Path} connection of {Peer} from {Remote}: {Reason}", "bulk", peer.IsEmpty ? "(no identity)" : peer.Short, from, admission.Reason);
                return;
            }
            Interlocked.Increment(ref _served);
            await _server.ServeAsync(tls, tls, peer, remote, new ConnectionActivity(), _aborting.Token, _stopping.Token, _firstRequestTimeout);
        }
        catch (Exception e) when (e is IOException or AuthenticationException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // A handshake that failed or timed out, or a caller gone: nothing to answer, as Kestrel would not.
            _log.LogDebug("bulk connection from {Remote} ended: {Reason}", from, e.Message);
        }
        catch (Exception e)
        {
            _log.LogError(e, "bulk connection from {Remote} failed", from);
        }
        finally
        {
            await tls.DisposeAsync();
            ticket.Dispose();
        }
    }

    /// <summary>
    /// Idle connections close at once and no new one is served; calls in flight get <paramref name="grace"/> to
    /// finish, then every connection still open is cut.
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
            _log.LogDebug("bulk connections ended with {Error} at stop", e.Message);
        }
    }
}
