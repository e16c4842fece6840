using System.Collections.Concurrent;
using System.Net;
using System.Net.Quic;
using DinoMesh.Core.Identity;
using DinoMesh.Transport.Client;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Server;
using DinoMesh.Transport.Messages;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport;

/// <summary>
/// The node's peer-to-peer endpoint: serves the registered protocols to admitted peers (and the join protocol to
/// anyone with a valid credential) over mutual TLS 1.3, and calls other peers' protocols. Each call is one stream
/// of a multiplexed connection (HTTP/2, or HTTP/3 over QUIC where available), so a bulk transfer never queues a
/// small message behind it. Register protocols before <see cref="StartAsync"/>.
/// </summary>
public sealed partial class PeerTransport : IAsyncDisposable
{
    private readonly NodeIdentity _identity;
    private readonly TransportOptions _options;
    private readonly IAdmission _admission;
    private readonly ILogger _log;
    /// <summary>Bound on a ping and its answer (a nonce: at most 10 bytes encoded).</summary>
    private const int PingBytes = 64;

    private readonly ProtocolTable _protocols = new();
    private readonly PeerServer _server;
    private readonly Lean.DedicatedReaders _readers;

    /// <summary>Lean connections read by a thread of their own now, incoming and outgoing (see <see cref="TransportOptions.DedicatedLeanReaders"/>).</summary>
    internal int DedicatedLeanReaders => _readers.Running;
    private readonly ConcurrentDictionary<LinkKey, OutboundLink> _links = new();
    private readonly CancellationTokenSource _disposing = new();
    private readonly bool _quic;
    private int _state; // 0 new, 1 started, 2 disposed

    public PeerTransport(NodeIdentity identity, TransportOptions options, IAdmission admission, ILoggerFactory loggerFactory)
    {
        _identity = identity;
        _options = options;
        _admission = admission;
        _log = loggerFactory.CreateLogger("DinoMesh.Transport");
        _readers = new Lean.DedicatedReaders(options.DedicatedLeanReaders);
        _server = new PeerServer(identity, options, admission, _protocols, loggerFactory, _readers);
        // Dial HTTP/3 only where nodes serve it: no node does yet (PeerServer.QuicEnabled), and a link that tries it
        // first would pay a failed QUIC attempt (a timeout where UDP is dropped) before every fallback to HTTP/2.
#pragma warning disable CA1416 // IsSupported is itself the platform check
        _quic = options.EnableQuic && _server.QuicEnabled && QuicConnection.IsSupported;
#pragma warning restore CA1416
        RegisterUnary(ProtocolIds.Ping, PingBytes, AnswerPing);
    }

    /// <summary>
    /// The log version at which this node was admitted, presented to every peer it dials so that a member that has
    /// not applied it yet waits for its log instead of refusing (0, the default, presents nothing).
    /// </summary>
    public AdmissionHint AdmissionHint { get; } = new();

    /// <summary>The settings this transport runs with (e.g. <see cref="TransportOptions.DefaultDeadline"/> for callers).</summary>
    public TransportOptions Options => _options;

    /// <summary>This node's PeerId.</summary>
    public PeerId Self => _identity.PeerId;

    /// <summary>The bound listen address (valid after <see cref="StartAsync"/>; resolves port 0).</summary>
    public IPEndPoint? ListenEndPoint { get; private set; }

    /// <summary>host:port peers should dial: <see cref="TransportOptions.Advertise"/> or the bound address.</summary>
    public string Advertise => _options.Advertise ?? (ListenEndPoint is { } ep ? ep.ToString() : "");

    /// <summary>"h3/quic" when nodes serve HTTP/3 and this platform has QUIC (libmsquic), else "h2/tls1.3": what new links will use.</summary>
    public string PreferredTransport => _quic ? WireHeaders.H3 : WireHeaders.H2;

    /// <summary>Whether this node accepts HTTP/3 over QUIC: not yet (see <c>PeerServer.QuicEnabled</c>).</summary>
    public bool ServesQuic => _server.QuicEnabled;

    /// <summary>Incoming connections now: open, in their TLS handshake, and of peers that are not admitted.</summary>
    public IncomingConnections IncomingConnections =>
        _server.Gate is { } gate && gate.Counts is var (open, handshaking, strangers)
            ? new IncomingConnections(open, handshaking, strangers, gate.MaxConnections)
            : default;

    /// <summary>Incoming bulk connections served past Kestrel's socket transport since the start (for tests and diagnostics).</summary>
    internal long DirectBulkConnections => _server.DirectBulkConnections;

    /// <summary>Incoming lean connections served past Kestrel's socket transport since the start (for tests and diagnostics).</summary>
    internal long DirectLeanConnections => _server.DirectLeanConnections;

    /// <summary>Lean connections served past Kestrel on a thread of their own since the start.</summary>
    internal long DirectLeanConnectionsOnThreads => _server.DirectLeanConnectionsOnThreads;

    /// <summary>TLS handshakes of incoming connections done past Kestrel (admitted or refused) since the start.</summary>
    internal long DirectHandshakes => _server.DirectHandshakes;

    /// <summary>The server's listener factories whose connections would not pass the connection caps (none).</summary>
    internal IReadOnlyList<string> UngatedListenerFactories => _server.UngatedListenerFactories;

    /// <summary>Outgoing links with their transport and last round trip.</summary>
    public IReadOnlyCollection<PeerLink> Links => _links.Values.Select(l => l.Snapshot()).ToArray();

    /// <summary>Serves a request/response protocol; requests above <paramref name="maxRequestBytes"/> are refused with TooLarge.</summary>
    /// <param name="inline">
    /// The handler is short and never waits (no disk sync, no call to another peer): on the lean path it runs on the
    /// connection's reader instead of after a hop to the thread pool, and the calls behind it on that connection wait
    /// for it. Worth it for the calls on a commit's path, where each hop costs tens of microseconds on a busy machine.
    /// </param>
    public void RegisterUnary(string protocolId, int maxRequestBytes, UnaryHandler handler, bool inline = false)
    {
        ThrowIfStarted();
        _protocols.Add(new ProtocolRegistration(protocolId, maxRequestBytes, OpenToNonMembers: false, handler, null, inline));
    }

    /// <summary>
    /// Serves a request/response protocol whose handler answers before it finishes (<see cref="AnswerThen"/>): on the
    /// lean path it runs inline on the connection's reader, the answer is written, and then the rest of its work runs on
    /// that thread. Elsewhere (HTTP/2, bulk) the rest runs before the answer is written.
    /// </summary>
    public void RegisterAnswerThen(string protocolId, int maxRequestBytes, AnswerThenHandler handler)
    {
        ThrowIfStarted();
        UnaryHandler whole = (peer, request, ct) =>
        {
            var (answer, then) = handler(peer, request, ct);
            then?.Invoke();
            return ValueTask.FromResult(answer);
        };
        _protocols.Add(new ProtocolRegistration(protocolId, maxRequestBytes, OpenToNonMembers: false, whole, null, Inline: true, AnswerThen: handler));
    }

    /// <summary>
    /// Serves a request/response protocol whose answers may lend a pooled buffer (<see cref="LentAnswer"/>): the bulk
    /// path writes such an answer straight from the buffer and then releases it; HTTP/2 and the lean path get a copy.
    /// </summary>
    public void RegisterLendingUnary(string protocolId, int maxRequestBytes, LendingUnaryHandler handler)
    {
        ThrowIfStarted();
        UnaryHandler copying = async (peer, request, ct) => (await handler(peer, request, ct)).ToArrayAndRelease();
        _protocols.Add(new ProtocolRegistration(protocolId, maxRequestBytes, OpenToNonMembers: false, copying, null, Lending: handler));
    }

    /// <summary>Serves a duplex streaming protocol; each request frame is bounded by <paramref name="maxRequestFrameBytes"/>.</summary>
    public void RegisterStream(string protocolId, int maxRequestFrameBytes, StreamHandler handler)
    {
        ThrowIfStarted();
        _protocols.Add(new ProtocolRegistration(protocolId, maxRequestFrameBytes, OpenToNonMembers: false, null, handler));
    }

    /// <summary>
    /// Serves <see cref="ProtocolIds.Join"/>, the one protocol a peer that is not admitted may call. The gate checks
    /// the credential and asks the node to admit the peer.
    /// </summary>
    public void RegisterJoin(Join.JoinGate gate)
    {
        ThrowIfStarted();
        _protocols.Add(new ProtocolRegistration(ProtocolIds.Join, Join.JoinGate.MaxRequestBytes, OpenToNonMembers: true, gate.HandleAsync, null));
    }

    /// <summary>
    /// Binds the listener and starts serving. Throws <see cref="IOException"/> when the address is taken or cannot be
    /// bound; its message is the cause alone ("Address already in use"), for the caller to say which address.
    /// </summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) throw new InvalidOperationException("the transport was already started or disposed");
        try
        {
            ListenEndPoint = await _server.StartAsync(ct);
        }
        catch (IOException e)
        {
            // Kestrel says "Failed to bind to address https://...: address already in use."; the socket error under
            // it is the part worth printing.
            var cause = e;
            while (cause.InnerException is IOException inner) cause = inner;
            throw new IOException(cause.InnerException?.Message ?? cause.Message, e);
        }
        // Debug: the node logs one summary line once it is in its cluster; a refused join must print only its error.
        _log.LogDebug("peer {Peer} listening on {Endpoint} (mutual TLS 1.3, {Transport}), advertising {Advertise}",
            Self, ListenEndPoint, _server.QuicEnabled ? "h2/tls1.3 + h3/quic" : WireHeaders.H2, Advertise);
    }

    /// <summary>Forgets the connection pools to <paramref name="address"/> (after a peer left or moved).</summary>
    public void DropLinks(string address)
    {
        foreach (var key in _links.Keys.Where(k => k.Address == address))
        {
            if (_links.TryRemove(key, out var link)) link.Dispose();
        }
    }

    private OutboundLink LinkFor(string address, PeerId? expected, bool anyPeer)
    {
        ObjectDisposedException.ThrowIf(_state == 2, this);
        var key = new LinkKey(address, expected, anyPeer);
        if (_links.TryGetValue(key, out var existing)) return existing;
        var created = new OutboundLink(key, _identity, _options, _admission, _quic, AdmissionHint, _readers);
        if (_links.TryAdd(key, created)) return created;
        created.Dispose();
        return _links[key];
    }

    private static ValueTask<byte[]> AnswerPing(PeerContext peer, ReadOnlyMemory<byte> request, CancellationToken ct)
    {
        var ping = PeerMessageCodec.DecodeRequest<Wire.Ping>(request, PingBytes, "ping");
        return ValueTask.FromResult(PeerMessageCodec.Serialize(ping));
    }

    private void ThrowIfStarted()
    {
        if (_state != 0) throw new InvalidOperationException("register protocols before StartAsync");
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2) return;
        await _disposing.CancelAsync();
        await _server.DisposeAsync();
        foreach (var link in _links.Values) link.Dispose();
        _links.Clear();
        _disposing.Dispose();
    }
}
