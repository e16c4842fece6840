using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace DinoMesh.Node.Tests.Cluster;

/// <summary>
/// A stranger speaking the peer protocol correctly: TLS 1.3, HTTP/2 (ALPN h2), POST of one length-prefixed frame to a
/// protocol path, but with a certificate (a fresh self-signed P-256 key) that no member admitted — or none at all.
/// </summary>
public sealed class RogueClient : IDisposable
{
    private readonly HttpClient _http;

    public RogueClient(bool presentCertificate = true)
    {
        Certificate = presentCertificate ? SelfSigned() : null;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = SslProtocols.Tls13,
                // The node's certificate is self-signed by design; the rogue does not care who it talks to.
#pragma warning disable CA5359
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
                ClientCertificates = Certificate is null ? null : new X509CertificateCollection { Certificate },
            },
        };
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
    }

    public X509Certificate2? Certificate { get; }

    /// <summary>POSTs <paramref name="message"/> as one frame (4-byte big-endian length, then the bytes) to the protocol path.</summary>
    public async Task<HttpResponseMessage> CallAsync(string endpoint, string protocol, byte[] message, CancellationToken ct)
    {
        try
        {
            return await SendOnceAsync(endpoint, protocol, message, ct);
        }
        catch (HttpRequestException)
        {
            // A refusal closes the connection; a request racing that close fails. Ask once more on a fresh connection,
            // which must then give a definite answer.
            return await SendOnceAsync(endpoint, protocol, message, ct);
        }
    }

    private async Task<HttpResponseMessage> SendOnceAsync(string endpoint, string protocol, byte[] message, CancellationToken ct)
    {
        var body = new byte[4 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(body, (uint)message.Length);
        message.CopyTo(body, 4);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"https://{endpoint}{protocol}")
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-dinomesh-frames");
        request.Headers.Add("dm-deadline-ms", "5000");
        return await _http.SendAsync(request, ct);
    }

    /// <summary>
    /// The silent client of issue 7: TCP from <paramref name="local"/>, a complete mutual-TLS 1.3 handshake (ALPN h2)
    /// with this rogue's certificate, then nothing — no HTTP/2 preface, no request. The outcome says whether the node
    /// let it in, refused it (reset or closed), or left it hanging until <paramref name="timeout"/>.
    /// </summary>
    public async Task<(SilentConnection? Connection, SilentOutcome Outcome)> OpenSilentAsync(IPEndPoint node, IPAddress local, TimeSpan timeout, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        SslStream? tls = null;
        try
        {
            socket.Bind(new IPEndPoint(local, 0));
            await socket.ConnectAsync(node, limit.Token);
            tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "dinomesh",
                EnabledSslProtocols = SslProtocols.Tls13,
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                ClientCertificateContext = _context ??= SslStreamCertificateContext.Create(Certificate!, null, offline: true),
#pragma warning disable CA5359
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
            }, limit.Token);
            return (new SilentConnection(socket, tls), SilentOutcome.Open);
        }
        catch (Exception e) when (e is SocketException or IOException or AuthenticationException or OperationCanceledException)
        {
            if (tls is not null) await tls.DisposeAsync();
            socket.Dispose();
            if (ct.IsCancellationRequested) throw;
            return (null, e is OperationCanceledException ? SilentOutcome.Hung : SilentOutcome.Refused);
        }
    }

    private SslStreamCertificateContext? _context;

    /// <summary>
    /// An AdmitNotice (admission.proto) naming one peer, encoded by hand: field 1 (peers), a message with field 1 (id)
    /// and field 2 (address).
    /// </summary>
    public static byte[] AdmitNotice(string peerId, string address)
    {
        byte[] inner = [0x0A, (byte)peerId.Length, .. System.Text.Encoding.ASCII.GetBytes(peerId), 0x12, (byte)address.Length, .. System.Text.Encoding.ASCII.GetBytes(address)];
        return [0x0A, (byte)inner.Length, .. inner];
    }

    /// <summary>
    /// A JoinRequest (docs/protocol.md) encoded by hand in MessagePack: an array of the cluster id (bin8), the proof
    /// (bin8) and the advertised address (str8).
    /// </summary>
    public static byte[] JoinRequest(byte[] clusterId, byte[] proof, string advertise)
    {
        var address = System.Text.Encoding.ASCII.GetBytes(advertise);
        return [0x93, 0xc4, (byte)clusterId.Length, .. clusterId, 0xc4, (byte)proof.Length, .. proof, 0xd9, (byte)address.Length, .. address];
    }

    /// <summary>The PeerId the node derives from a certificate: lower-hex SHA-256 of its SubjectPublicKeyInfo.</summary>
    public static string PeerIdOf(X509Certificate2 certificate) =>
        Convert.ToHexStringLower(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=rogue-{Guid.NewGuid():N}", key, HashAlgorithmName.SHA256);
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose()
    {
        _http.Dispose();
        Certificate?.Dispose();
    }
}

public enum SilentOutcome
{
    /// <summary>The handshake completed and the connection is open.</summary>
    Open,

    /// <summary>Reset or closed by the node.</summary>
    Refused,

    /// <summary>No answer within the timeout (the node neither served nor refused it).</summary>
    Hung,
}

/// <summary>A TLS connection that says nothing after its handshake.</summary>
public sealed class SilentConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly SslStream _tls;

    internal SilentConnection(Socket socket, SslStream tls)
    {
        _socket = socket;
        _tls = tls;
    }

    /// <summary>True once the node has closed or reset the connection, waiting at most <paramref name="timeout"/>.</summary>
    public async Task<bool> ClosedByNodeAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(timeout);
        var buffer = new byte[256];
        try
        {
            // The node may send its HTTP/2 SETTINGS first; reading on to the end of the stream is the check.
            while (await _tls.ReadAsync(buffer, wait.Token) > 0)
            {
            }
            return true;
        }
        catch (Exception e) when (e is IOException or SocketException or AuthenticationException or ObjectDisposedException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _tls.DisposeAsync();
        _socket.Dispose();
    }
}
