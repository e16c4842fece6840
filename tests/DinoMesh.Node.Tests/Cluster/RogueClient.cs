using System.Buffers.Binary;
using System.Net;
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
    /// The silent client of issue 7 with this rogue's certificate: a complete mutual-TLS 1.3 handshake from
    /// <paramref name="local"/>, then nothing (see <see cref="SilentTlsClient"/>).
    /// </summary>
    public Task<(SilentTlsClient? Client, SilentOutcome Outcome)> OpenSilentAsync(IPEndPoint node, IPAddress local, TimeSpan timeout, CancellationToken ct) =>
        SilentTlsClient.OpenAsync(node, local, _context ??= SslStreamCertificateContext.Create(Certificate!, null, offline: true), timeout, ct);

    private SslStreamCertificateContext? _context;

    /// <summary>
    /// An admit notice naming one peer, in MessagePack, encoded by hand: [ [ [bin8 id (32 bytes), fixstr address] ] ]
    /// (the notice is an array of one field, the peer list; each peer is an array of id and address).
    /// </summary>
    public static byte[] AdmitNotice(string peerId, string address)
    {
        var id = Convert.FromHexString(peerId);
        var text = System.Text.Encoding.ASCII.GetBytes(address);
        if (id.Length != 32 || text.Length > 31) throw new ArgumentException("a 32-byte id and an address of at most 31 characters");
        return [0x91, 0x91, 0x92, 0xC4, 32, .. id, (byte)(0xA0 | text.Length), .. text];
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
