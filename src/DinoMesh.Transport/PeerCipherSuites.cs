using System.Net.Security;

namespace DinoMesh.Transport;

/// <summary>
/// The TLS 1.3 cipher suites every peer connection offers and accepts, AES-128-GCM first (docs/protocol.md, wire
/// security). OpenSSL's own order puts TLS_AES_256_GCM_SHA384 first; the 128-bit suite is TLS 1.3's mandatory one,
/// keeps 128-bit security, and runs ~10 % faster on AES-NI (fewer rounds), which a chunk's megabyte feels on both
/// ends. The other two stay acceptable, so a peer whose order differs still connects.
/// </summary>
internal static class PeerCipherSuites
{
    private static readonly CipherSuitesPolicy? s_policy = OperatingSystem.IsLinux()
        ? new CipherSuitesPolicy([TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256])
        : null;

    /// <summary>The policy, or null where the platform takes none (its default order applies there).</summary>
    public static CipherSuitesPolicy? Policy => s_policy;
}
