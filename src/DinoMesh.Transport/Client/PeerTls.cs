using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace DinoMesh.Transport.Client;

/// <summary>The client side of mutual TLS to a peer, the same for every connection kind: TLS 1.3, this node's certificate, the link's server check.</summary>
internal static class PeerTls
{
    public static SslClientAuthenticationOptions ClientOptions(
        SslStreamCertificateContext certificate, RemoteCertificateValidationCallback validateServer, string? host = null, SslApplicationProtocol? alpn = null) => new()
    {
        TargetHost = host,
        EnabledSslProtocols = SslProtocols.Tls13,
        ClientCertificateContext = certificate,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = validateServer,
        ApplicationProtocols = alpn is { } protocol ? [protocol] : null,
    };
}
