using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using DinoMesh.Transport.Client;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// A bare lean connection to a node, dialled as <c>caller</c> with nothing sent on it yet: for tests that look at what
/// the server does with a connection (or how <see cref="LeanConnection"/> reads it) without a transport's link around it.
/// </summary>
internal static class LeanDial
{
    /// <param name="address">The server's host:port.</param>
    public static async Task<SslStream> ConnectAsync(NodeIdentity caller, string address, CancellationToken ct)
    {
        var certificate = SslStreamCertificateContext.Create(caller.Certificate, null, offline: true);
        // The server's key is not what these tests look at: any will do.
        var options = PeerTls.ClientOptions(certificate, static (_, certificate, _, _) => certificate is not null, "localhost", LeanWire.Alpn);
        var at = System.Net.IPEndPoint.Parse(address);
        return await PeerTls.DialAsync(at.Address.ToString(), at.Port, null, options, LeanWire.Alpn, TimeSpan.FromSeconds(3), ct)
            ?? throw new InvalidOperationException("the server did not choose the lean path");
    }
}
