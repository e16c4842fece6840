using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using DinoMesh.Transport.Identity;

namespace DinoMesh.Transport.Server;

/// <summary>
/// The server side of mutual TLS, the same for Kestrel's connections (<see cref="PeerServer"/>) and those served past it
/// (<see cref="DirectConnections"/>): TLS 1.3 only (<see cref="PeerCipherSuites"/>), this node's certificate, a client certificate required but not
/// checked against any authority.
/// </summary>
internal static class ServerTls
{
    public const SslProtocols Protocols = SslProtocols.Tls13;

    /// <summary>
    /// Self-signed by design: who the caller is, and whether it is admitted, is decided from its key (per request over
    /// HTTP/2, where a peer not yet admitted may still call the join protocol; per connection past Kestrel).
    /// </summary>
    public static bool AcceptsClient(X509Certificate? certificate) => certificate is not null;

    /// <summary>The handshake of a connection served past Kestrel, which offers exactly <paramref name="alpn"/>.</summary>
    public static SslServerAuthenticationOptions Direct(NodeIdentity identity, SslApplicationProtocol[] alpn) => new()
    {
        ServerCertificateContext = SslStreamCertificateContext.Create(identity.Certificate, null, offline: true),
        EnabledSslProtocols = Protocols,
        CipherSuitesPolicy = PeerCipherSuites.Policy,
        ClientCertificateRequired = true,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = static (_, certificate, _, _) => AcceptsClient(certificate),
        ApplicationProtocols = [.. alpn],
    };
}
