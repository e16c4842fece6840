using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using DinoMesh.Core.Identity;
using DinoMesh.Transport.Identity;

namespace DinoMesh.Transport.Client;

/// <summary>
/// One peer address as seen from here: its own SocketsHttpHandler (so its own connection pool, normally one
/// HTTP/2 connection with many streams), the server-certificate check for whom we expect there, and the link
/// statistics reported by <see cref="PeerTransport.Links"/>.
/// </summary>
internal sealed class OutboundLink : IDisposable
{
    private readonly IAdmission _admission;
    private readonly object _gate = new();
    private PeerId _seen;
    private string _transport = "";
    private TimeSpan? _lastRtt;
    private DateTimeOffset? _lastSuccess;
    private CallFailure _lastFailure;
    private long _mismatchAt;
    private string? _mismatch;
    private volatile bool _h3Failed;

    public OutboundLink(LinkKey key, NodeIdentity identity, TransportOptions options, IAdmission admission, bool quic, AdmissionHint? hint = null, Lean.DedicatedReaders? readers = null)
    {
        Key = key;
        Hint = hint ?? new AdmissionHint();
        _admission = admission;
        BaseUri = new Uri("https://" + key.Address);
        UseHttp3 = quic;
        var certificate = SslStreamCertificateContext.Create(identity.Certificate, null, offline: true);
        var source = DialSource.For(options.Listen.Address, BaseUri.DnsSafeHost);
        Bulk = new BulkPool(BaseUri, certificate, ValidateServer, options.ConnectTimeout, options.BulkConnectionsPerPeer, source, Hint);
        Lean = new LeanLink(BaseUri, certificate, ValidateServer, options.ConnectTimeout, options.KeepAlivePingTimeout, source, Hint, readers, options.PostLivenessInterval);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            // One connection per peer normally; a second only when the first runs out of concurrent streams.
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = options.KeepAlivePingTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            InitialHttp2StreamWindowSize = 1024 * 1024,
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            SslOptions = PeerTls.ClientOptions(certificate, ValidateServer),
        };
        if (source is not null) handler.ConnectCallback = (context, ct) => DialFromAsync(source, context.DnsEndPoint, ct);
        Invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    /// <summary>The HTTP/2 client's dial when <see cref="DialSource"/> names a local address: what the default dial does, bound first.</summary>
    private static async ValueTask<Stream> DialFromAsync(IPAddress source, DnsEndPoint destination, CancellationToken ct)
    {
        var socket = DialSource.NewSocket(source);
        try
        {
            await socket.ConnectAsync(destination, ct);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public LinkKey Key { get; }

    /// <summary>The admission version this node presents to the peer (<see cref="AdmissionHint"/>).</summary>
    public AdmissionHint Hint { get; }

    /// <summary>Plain TLS connections for bulk calls to the same address, under the same server check.</summary>
    public BulkPool Bulk { get; }

    /// <summary>The multiplexed plain TLS connection for small unary calls to the same address, under the same server check.</summary>
    public LeanLink Lean { get; }

    public Uri BaseUri { get; }

    public HttpMessageInvoker Invoker { get; }

    /// <summary>Try HTTP/3 first; turned off for good after a connection-level failure over QUIC.</summary>
    public bool UseHttp3 { get; private set; }

    /// <summary>The PeerId that answered the latest successful handshake.</summary>
    public PeerId Seen
    {
        get
        {
            lock (_gate) return Key.Expected ?? _seen;
        }
    }

    public Version RequestVersion => UseHttp3 && !_h3Failed ? HttpVersion.Version30 : HttpVersion.Version20;

    public void Http3Failed()
    {
        _h3Failed = true;
        UseHttp3 = false;
    }

    private bool ValidateServer(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        // Chain and name errors are expected (self-signed, addressed by IP); the key is what we pin.
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            RecordMismatch("the peer presented no certificate");
            return false;
        }
        var presented = PeerCertificate.PeerIdOf(certificate);
        string? problem = Key switch
        {
            { Expected: { } expected } when presented != expected => $"expected peer {expected.Hex}, the key presented hashes to {presented.Hex}",
            { Expected: null, AnyPeer: false } when !_admission.IsAdmitted(presented) => $"peer {presented.Hex} is not an admitted member",
            _ => null,
        };
        if (problem is not null)
        {
            RecordMismatch(problem);
            return false;
        }
        lock (_gate) _seen = presented;
        return true;
    }

    private void RecordMismatch(string detail)
    {
        lock (_gate)
        {
            _mismatch = detail;
            _mismatchAt = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>The identity problem found by a handshake that started after <paramref name="since"/>, if any.</summary>
    public string? MismatchSince(long since)
    {
        lock (_gate) return _mismatchAt >= since ? _mismatch : null;
    }

    public void RecordSuccess(Version version, TimeSpan? rtt)
    {
        lock (_gate)
        {
            _transport = version.Major == 3 ? WireHeaders.H3 : WireHeaders.H2;
            if (rtt is { } r) _lastRtt = r;
            _lastSuccess = DateTimeOffset.UtcNow;
            _lastFailure = CallFailure.None;
        }
    }

    /// <summary>Records a failure that says the link itself is in trouble; answers and local cancellations are not.</summary>
    public void RecordFailure(CallFailure failure)
    {
        if (!IsLinkFailure(failure)) return;
        lock (_gate) _lastFailure = failure;
    }

    // A refusal, a bad request, an oversized message, a handler error or a reset stream all came back over a working
    // connection; the caller's own cancellation says nothing about the peer at all.
    internal static bool IsLinkFailure(CallFailure failure) =>
        failure is CallFailure.Unreachable or CallFailure.IdentityMismatch or CallFailure.Timeout;

    public PeerLink Snapshot()
    {
        lock (_gate) return new PeerLink(Key.Expected ?? _seen, Key.Address, _transport, _lastRtt, _lastSuccess, _lastFailure);
    }

    public void RecordLeanSuccess(TimeSpan rtt)
    {
        lock (_gate)
        {
            _transport = WireHeaders.Lean;
            _lastRtt = rtt;
            _lastSuccess = DateTimeOffset.UtcNow;
            _lastFailure = CallFailure.None;
        }
    }

    public void RecordBulkSuccess(TimeSpan rtt)
    {
        lock (_gate)
        {
            _lastRtt = rtt;
            _lastSuccess = DateTimeOffset.UtcNow;
            _lastFailure = CallFailure.None;
        }
    }

    public void Dispose()
    {
        Bulk.Dispose();
        Lean.Dispose();
        Invoker.Dispose();
    }
}
