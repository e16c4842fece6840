using System.Security.Cryptography.X509Certificates;
using DinoMesh.Core.Identity;

namespace DinoMesh.Transport.Identity;

/// <summary>Maps a certificate presented in a TLS handshake to the PeerId of its key.</summary>
public static class PeerCertificate
{
    /// <summary>
    /// The PeerId of the certificate's public key: SHA-256 over its DER SubjectPublicKeyInfo, the same bytes
    /// <see cref="NodeIdentity"/> hashes. The TLS handshake already proved the peer holds the matching private key.
    /// </summary>
    public static PeerId PeerIdOf(X509Certificate2 certificate) =>
        PeerId.FromPublicKey(certificate.PublicKey.ExportSubjectPublicKeyInfo());

    /// <summary>Same as <see cref="PeerIdOf(X509Certificate2)"/> for the base type TLS callbacks hand out.</summary>
    public static PeerId PeerIdOf(X509Certificate certificate)
    {
        if (certificate is X509Certificate2 c2) return PeerIdOf(c2);
        using var loaded = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return PeerIdOf(loaded);
    }
}
