using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using DinoMesh.Core.Identity;
using DinoMesh.Transport.Framing;
using DinoMesh.Transport.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Server;

/// <summary>
/// The listening side: Kestrel with TLS 1.3 only and a required client certificate, HTTP/2 (and HTTP/3 where QUIC
/// works). Every request is one stream; this class decides per request whether the caller may use the protocol
/// and hands the stream to its handler. Connections pass the caps of <see cref="ConnectionGate"/> at accept
/// (<see cref="PeerListenerFactory"/>) and the deadlines of <see cref="ConnectionWatch"/>; refusals are logged through
/// <see cref="RefusalLog"/>, so a flood of them costs a few lines.
/// </summary>
internal sealed class PeerServer : IAsyncDisposable
{
    private readonly NodeIdentity _identity;
    private readonly TransportOptions _options;
    private readonly IAdmission _admission;
    private readonly ProtocolTable _protocols;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private readonly RefusalLog _refusals;
    private WebApplication? _app;
    private DirectConnections? _direct;

    private readonly Lean.DedicatedReaders? _readers;

    public PeerServer(NodeIdentity identity, TransportOptions options, IAdmission admission, ProtocolTable protocols, ILoggerFactory loggerFactory, Lean.DedicatedReaders? readers = null)
    {
        _readers = readers;
        _identity = identity;
        _options = options;
        _admission = admission;
        _protocols = protocols;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger("DinoMesh.Transport.Server");
        _refusals = new RefusalLog(_log, options.RefusalLogInterval, options.RefusalLogTime);
    }

    /// <summary>The connection caps in force (after the descriptor limit lowered them); set by <see cref="StartAsync"/>.</summary>
    public ConnectionGate? Gate { get; private set; }

    /// <summary>Bulk connections served past Kestrel (see <see cref="DirectConnections"/>) since the start.</summary>
    public long DirectBulkConnections => _direct?.ServedBulk ?? 0;

    /// <summary>Lean connections served past Kestrel (see <see cref="DirectConnections"/>) since the start.</summary>
    public long DirectLeanConnections => _direct?.ServedLean ?? 0;

    /// <summary>Of those, the ones read by a thread of their own (see <see cref="Lean.DedicatedReaders"/>).</summary>
    public long DirectLeanConnectionsOnThreads => _direct?.ServedLeanOnThreads ?? 0;

    /// <summary>TLS handshakes done past Kestrel (admitted or refused) since the start.</summary>
    public long DirectHandshakes => _direct?.Handshakes ?? 0;

    /// <summary>
    /// True when incoming connections may also use HTTP/3 over QUIC: never. The host is built with
    /// <c>UseKestrelCore</c>, which registers no QUIC transport (<c>UseKestrel</c> adds one through <c>UseQuic</c>), so
    /// Kestrel binds no QUIC listener even where libmsquic exists; asking it for HTTP/3 as well (as this class did until
    /// 2026-12-06) was silently ignored. A QUIC transport added later would take connections past the caps: the gate
    /// wraps only the TCP listener factory (<see cref="PeerListenerFactory"/>), and <see cref="ConnectionWatch"/> is TCP
    /// connection middleware. docs/protocol.md ("Incoming connections") lists what it would need;
    /// <see cref="UngatedListenerFactories"/> is the guard.
    /// </summary>
    public bool QuicEnabled => false;

    /// <summary>The host's listener factories whose connections do not pass <see cref="ConnectionGate"/>: none (tests assert it).</summary>
    internal IReadOnlyList<string> UngatedListenerFactories =>
        _app is null ? []
        : [.. _app.Services.GetServices<IMultiplexedConnectionListenerFactory>().Select(f => f.GetType().FullName ?? "?"),
           .. _app.Services.GetServices<IConnectionListenerFactory>().Where(f => f is not PeerListenerFactory).Select(f => f.GetType().FullName ?? "?")];

    public async Task<IPEndPoint> StartAsync(CancellationToken ct)
    {
        var limits = _options.Limits;
        var descriptors = DescriptorLimit.Current();
        var gate = new ConnectionGate(
            DescriptorLimit.ConnectionBudget(descriptors, limits.DescriptorReserve, limits.MaxConnections),
            limits.MaxHandshakes,
            limits.MaxStrangerConnections,
            limits.MaxStrangerConnectionsPerAddress,
            _admission.IsMemberAddress);
        Gate = gate;
        _log.LogDebug("incoming connections: at most {Max} (descriptor limit {Descriptors}), {Handshakes} in handshake, {Strangers} not admitted, {PerAddress} per address",
            gate.MaxConnections, descriptors?.ToString() ?? "none", gate.MaxHandshakes, gate.MaxStrangers, gate.MaxPerAddress);
        var bulk = _options.ServeBulk ? new BulkServer(_protocols, _admission, _refusals, LogFailure) : null;
        var lean = _options.ServeLean ? new LeanServer(_protocols, _admission, _refusals, LogFailure, limits.LeanIdleTimeout) : null;
        var watch = new ConnectionWatch(limits, _admission, _refusals, bulk, lean);
        // Bulk and lean connections are taken at accept, past Kestrel's socket transport (see DirectConnections); one
        // whose ClientHello the listener cannot read still reaches the same BulkServer or LeanServer through Kestrel
        // and the watch.
        var directBulk = _options.TakeBulkAtAccept ? bulk : null;
        var directLean = _options.TakeLeanAtAccept ? lean : null;
        _direct = directBulk is null && directLean is null ? null
            : new DirectConnections(directBulk, directLean, _identity, _admission, _refusals, _log, _options.ConnectTimeout, limits.FirstRequestTimeout, _readers);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(_loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.WebHost.UseKestrelCore();
        builder.Services.RemoveAll<IConnectionListenerFactory>();
        builder.Services.AddSingleton<IConnectionListenerFactory>(new PeerListenerFactory(gate, _refusals, _loggerFactory, _direct, _options.ConnectTimeout));
        builder.WebHost.ConfigureKestrel(kestrel => ConfigureKestrel(kestrel, watch));
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync(ct);
        _app = app;

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        return new IPEndPoint(_options.Listen.Address, port);
    }

    private void ConfigureKestrel(KestrelServerOptions kestrel, ConnectionWatch watch)
    {
        kestrel.AddServerHeader = false;
        var limits = kestrel.Limits;
        // Frames are bounded per protocol; a stream may be long (chunk transfer) and idle (waiting on a disk), so
        // byte-count and data-rate limits would only break legitimate transfers. Deadlines bound time instead.
        limits.MaxRequestBodySize = null;
        limits.MinRequestBodyDataRate = null;
        limits.MinResponseDataRate = null;
        limits.Http2.MaxStreamsPerConnection = 512;
        limits.Http2.InitialConnectionWindowSize = 8 * 1024 * 1024;
        limits.Http2.InitialStreamWindowSize = 1024 * 1024;
        limits.Http2.KeepAlivePingDelay = _options.KeepAlivePingDelay;
        limits.Http2.KeepAlivePingTimeout = _options.KeepAlivePingTimeout;
        limits.KeepAliveTimeout = TimeSpan.FromMinutes(5);
        limits.RequestHeadersTimeout = _options.ConnectTimeout;

        var extra = ExtraAlpn();
        kestrel.Listen(_options.Listen, listen =>
        {
            // HTTP/2 only: see QuicEnabled.
            listen.Protocols = HttpProtocols.Http2;
            // Order matters: the count wraps the whole connection; the watch sees it once TLS knows who it is.
            listen.Use(watch.Count);
            listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = _identity.Certificate,
                SslProtocols = ServerTls.Protocols,
                ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                CheckCertificateRevocation = false,
                HandshakeTimeout = _options.ConnectTimeout,
                // Per request here, since a not-yet-admitted peer may still call the join protocol on this connection.
                ClientCertificateValidation = static (certificate, _, _) => ServerTls.AcceptsClient(certificate),
                // The bulk and lean paths share the port: a client that offers one of their ALPN ids (and only that)
                // gets a plain TLS connection. The cipher suites are those of every peer connection.
                OnAuthenticate = (_, ssl) =>
                {
                    ssl.CipherSuitesPolicy = PeerCipherSuites.Policy;
                    if (extra.Length > 0) ssl.ApplicationProtocols = [.. ssl.ApplicationProtocols ?? [], .. extra];
                },
            });
            listen.Use(watch.Watch);
        });
    }

    private System.Net.Security.SslApplicationProtocol[] ExtraAlpn() =>
        [.. _options.ServeBulk ? [Bulk.BulkWire.Alpn] : Array.Empty<System.Net.Security.SslApplicationProtocol>(),
         .. _options.ServeLean ? [Lean.LeanWire.Alpn] : Array.Empty<System.Net.Security.SslApplicationProtocol>()];

    /// <summary>
    /// The one place a request that dies with its connection ends quietly: a peer that hangs up (or garbage that made
    /// us close the connection) can leave a response or certificate object disposed under a handler still running.
    /// </summary>
    private async Task HandleAsync(HttpContext http)
    {
        var activity = http.Features.Get<ConnectionActivity>();
        activity?.Begin();
        try
        {
            await ServeAsync(http);
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException or IOException
                                  && (http.RequestAborted.IsCancellationRequested || e is ObjectDisposedException))
        {
            _log.LogDebug("request on {Path} ended with its connection: {Error}", http.Request.Path.Value, e.Message);
        }
        finally
        {
            activity?.End();
        }
    }

    private async Task ServeAsync(HttpContext http)
    {
        var certificate = http.Connection.ClientCertificate;
        var path = http.Request.Path.Value ?? "";
        var remote = http.Connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, http.Connection.RemotePort) : null;
        if (certificate is null)
        {
            await RefuseAsync(http, default, path, "no client certificate");
            return;
        }

        var peer = PeerCertificate.PeerIdOf(certificate);
        var registration = _protocols.Find(path);
        var admitted = _admission.IsAdmitted(peer);
        if (!admitted && registration is not { OpenToNonMembers: true })
        {
            // A caller not known yet may present the log version it was admitted at: wait (bounded) for this node's
            // log to reach it before deciding, instead of refusing a newcomer every up-to-date member accepts.
            var presented = AdmissionHint.FromHeader(http.Request.Headers[AdmissionHint.Header].ToString());
            // One check under way per connection; the connection's other requests share it (ConnectionAdmission).
            var admission = presented <= 0 ? AdmissionVerdict.No(AdmissionVerdict.NotAdmitted)
                : http.Features.Get<ConnectionAdmission>() is { } shared ? await shared.CheckAsync(_admission, peer, presented).WaitAsync(http.RequestAborted)
                : await _admission.CheckAsync(peer, presented, http.RequestAborted);
            if (!admission.Admitted)
            {
                await RefuseAsync(http, peer, path, admission.Reason);
                return;
            }
            admitted = true;
        }
        if (registration is null)
        {
            _log.LogInformation("peer {Peer} called unknown protocol {Path}", peer, path);
            await FailAsync(http, CallFailure.UnknownProtocol, $"protocol {path} is not served here");
            return;
        }
        if (!HttpMethods.IsPost(http.Request.Method))
        {
            await FailAsync(http, CallFailure.BadRequest, "method must be POST");
            return;
        }

        var transport = http.Request.Protocol == "HTTP/3" ? WireHeaders.H3 : WireHeaders.H2;
        var context = new PeerContext(peer, admitted, remote, registration.ProtocolId, transport);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        deadline.CancelAfter(DeadlineOf(http.Request));
        if (registration.Unary is not null)
        {
            await ServeUnaryAsync(http, context, registration, deadline.Token);
        }
        else
        {
            await ServeStreamAsync(http, context, registration, deadline.Token);
        }
    }

    private async Task ServeUnaryAsync(HttpContext http, PeerContext peer, ProtocolRegistration registration, CancellationToken ct)
    {
        try
        {
            var reader = new FrameReader(http.Request.Body, registration.MaxRequestBytes);
            var request = await reader.ReadSingleAsync(ct);
            var response = await registration.Unary!(peer, request, ct);
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = WireHeaders.ContentType;
            http.Response.ContentLength = FrameReader.HeaderSize + response.Length;
            await new FrameWriter(http.Response.Body).WriteAsync(response, ct);
            TransportMetrics.Exchanged(peer.Peer, registration.ProtocolId, response.Length, request.Length);
        }
        catch (Exception e)
        {
            await AnswerFailureAsync(http, peer, e, ct);
        }
    }

    private async Task ServeStreamAsync(HttpContext http, PeerContext peer, ProtocolRegistration registration, CancellationToken ct)
    {
        var writer = new FrameWriter(http.Response.Body);
        try
        {
            // The accept marker (an empty frame) goes out before the handler runs, so the caller's open completes and
            // both directions can flow. A data frame is needed: Kestrel may hold back HTTP/2 headers flushed alone.
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = WireHeaders.ContentType;
            await writer.WriteAsync(ReadOnlyMemory<byte>.Empty, ct);
            var reader = new FrameReader(http.Request.Body, registration.MaxRequestBytes);
            await registration.Stream!(peer, reader, writer, ct);
        }
        catch (Exception e)
        {
            LogFailure(peer, e, ct);
            // The status is already sent. At a frame boundary the failure travels as trailers (typed, as for a unary
            // call); mid-frame, or with the caller gone, a stream reset is the only honest signal left.
            if (!writer.InFrame && !http.RequestAborted.IsCancellationRequested && http.Response.SupportsTrailers())
            {
                var (failure, detail) = Classify(e, ct);
                http.Response.AppendTrailer(WireHeaders.Failure, failure.ToString());
                http.Response.AppendTrailer(WireHeaders.Error, HeaderSafe(detail));
            }
            else
            {
                http.Abort();
            }
        }
    }

    private async Task AnswerFailureAsync(HttpContext http, PeerContext peer, Exception e, CancellationToken ct)
    {
        LogFailure(peer, e, ct);
        var (failure, detail) = Classify(e, ct);
        if (http.RequestAborted.IsCancellationRequested || http.Response.HasStarted)
        {
            http.Abort();
            return;
        }
        await FailAsync(http, failure, detail);
        if (failure == CallFailure.Refused && !peer.Admitted) CloseConnection(http);
    }

    internal static (CallFailure, string) Classify(Exception e, CancellationToken ct) => e switch
    {
        FrameException { Error: FrameError.TooLarge } => (CallFailure.TooLarge, e.Message),
        FrameException => (CallFailure.BadRequest, e.Message),
        PeerCallException p => (p.Failure, p.Message),
        // A handler that decodes with MessagePack directly may simply let a malformed message throw.
        MessagePack.MessagePackSerializationException => (CallFailure.BadRequest, "undecodable message: " + e.Message),
        OperationCanceledException when ct.IsCancellationRequested => (CallFailure.Timeout, "deadline passed"),
        _ => (CallFailure.RemoteError, "handler failed"),
    };

    private void LogFailure(PeerContext peer, Exception e, CancellationToken ct)
    {
        // What a peer can provoke at will goes through the refusal log: one full line per kind and source, then counts.
        var source = SourceOf(peer.RemoteEndPoint?.Address);
        switch (e)
        {
            case FrameException { Error: FrameError.TooLarge }:
                _refusals.Refused(LogLevel.Warning, $"oversized messages on {peer.ProtocolId}", source,
                    "rejected oversized message from {Peer} on {Protocol}: {Reason}", peer.Peer, peer.ProtocolId, e.Message);
                break;
            case PeerCallException { Failure: CallFailure.Refused } p:
                _refusals.Refused(LogLevel.Warning, $"refusals on {peer.ProtocolId} ({p.Message})", source,
                    "refused {Peer} from {Remote} on {Protocol}: {Reason}", peer.Peer.Hex, peer.RemoteEndPoint?.Address, peer.ProtocolId, p.Message);
                break;
            case FrameException or PeerCallException or MessagePack.MessagePackSerializationException:
                _refusals.Refused(LogLevel.Information, $"rejected requests on {peer.ProtocolId}", source,
                    "rejected request from {Peer} on {Protocol}: {Reason}", peer.Peer, peer.ProtocolId, e.Message);
                break;
            case OperationCanceledException when ct.IsCancellationRequested:
                _log.LogInformation("request from {Peer} on {Protocol} cancelled (deadline or caller gone)", peer.Peer, peer.ProtocolId);
                break;
            case IOException or ConnectionAbortedException:
                _log.LogInformation("stream from {Peer} on {Protocol} broke: {Reason}", peer.Peer, peer.ProtocolId, e.Message);
                break;
            default:
                _log.LogError(e, "handler for {Protocol} failed serving {Peer}", peer.ProtocolId, peer.Peer);
                break;
        }
    }

    private async Task RefuseAsync(HttpContext http, PeerId peer, string path, string reason)
    {
        // A node of another cluster probes us every second: one line, then a count per interval.
        _refusals.Refused(LogLevel.Warning, $"requests refused ({reason})", SourceOf(http.Connection.RemoteIpAddress),
            "refused {Peer} from {Remote} for {Path}: {Reason}; closing the connection",
            peer.IsEmpty ? "(no identity)" : peer.Hex, http.Connection.RemoteIpAddress, path, reason);
        await FailAsync(http, CallFailure.Refused, reason);
        CloseConnection(http);
    }

    // Refusals are counted per address (an IPv6 /64), not per key: a prober can make a new key per connection.
    private static string SourceOf(IPAddress? address) => address is null ? "?" : AddressKey.Of(address).ToString();

    private static async Task FailAsync(HttpContext http, CallFailure failure, string detail)
    {
        http.Response.StatusCode = WireHeaders.StatusOf(failure);
        // Header values must stay single-line ASCII.
        http.Response.Headers[WireHeaders.Error] = HeaderSafe(detail);
        http.Response.ContentLength = 0;
        await http.Response.CompleteAsync();
    }

    private static string HeaderSafe(string detail) =>
        new(detail.Select(c => c is >= ' ' and <= '~' ? c : '?').Take(200).ToArray());

    private static void CloseConnection(HttpContext http)
    {
        // HTTP/2: GOAWAY after the in-flight streams; the refused caller must reconnect (and be refused again).
        if (http.Features.Get<IConnectionLifetimeNotificationFeature>() is { } lifetime) lifetime.RequestClose();
        else http.Abort();
    }

    private TimeSpan DeadlineOf(HttpRequest request)
    {
        if (request.Headers.TryGetValue(WireHeaders.DeadlineMs, out var value) &&
            long.TryParse(value.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms) &&
            ms > 0)
        {
            return TimeSpan.FromMilliseconds(Math.Min(ms, (long)WireHeaders.MaxDeadline.TotalMilliseconds));
        }
        return _options.DefaultDeadline;
    }

    /// <summary>How long calls in flight may take to finish when the server stops.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);

    public async ValueTask DisposeAsync()
    {
        _refusals.Dispose();
        if (_app is null) return;
        using var stop = new CancellationTokenSource(StopGrace);
        var directStopped = _direct?.StopAsync(StopGrace) ?? Task.CompletedTask;
        try
        {
            await _app.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            // Streams still running after the grace period are cut; that is what stopping means.
        }
        await directStopped;
        await _app.DisposeAsync();
        _app = null;
    }
}
