using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using DinoMesh.Transport.Bulk;
using DinoMesh.Transport.Client;
using DinoMesh.Transport.Identity;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// The TLS 1.3 cipher suite peers agree on (docs/protocol.md, wire security): TLS_AES_128_GCM_SHA256 first, on every
/// server path (past Kestrel and through it) and from the client options every link dials with; a peer that offers
/// only another TLS 1.3 suite is still served.
/// </summary>
public class CipherSuiteTests
{
    private static async Task<SslStream> DialAsync(TestNode server, SslClientAuthenticationOptions options, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.Transport.ListenEndPoint!, ct);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        await tls.AuthenticateAsClientAsync(options, ct);
        return tls;
    }

    private static SslClientAuthenticationOptions LinkOptions(TestNode server, TestNode client, SslApplicationProtocol alpn) =>
        PeerTls.ClientOptions(
            SslStreamCertificateContext.Create(client.Identity.Certificate, null, offline: true),
            (_, certificate, _, _) => certificate is not null && PeerCertificate.PeerIdOf(certificate) == server.Id,
            "dinomesh",
            alpn);

    [Fact]
    public async Task A_bulk_connection_between_two_transports_uses_AES_128_GCM()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = new TestNode("B");
        a.Admission.Admit(b.Id);

        await using var tls = await DialAsync(a, LinkOptions(a, b, BulkWire.Alpn), ct);

        Assert.Equal(BulkWire.Alpn, tls.NegotiatedApplicationProtocol);
        Assert.Equal(TlsCipherSuite.TLS_AES_128_GCM_SHA256, tls.NegotiatedCipherSuite);
        await Poll.UntilAsync(() => a.Transport.DirectBulkConnections == 1, TimeSpan.FromSeconds(5), ct);
    }

    [Fact]
    public async Task An_http2_connection_through_Kestrel_uses_AES_128_GCM()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = new TestNode("B");
        a.Admission.Admit(b.Id);

        await using var tls = await DialAsync(a, LinkOptions(a, b, SslApplicationProtocol.Http2), ct);

        Assert.Equal(SslApplicationProtocol.Http2, tls.NegotiatedApplicationProtocol);
        Assert.Equal(TlsCipherSuite.TLS_AES_128_GCM_SHA256, tls.NegotiatedCipherSuite);
    }

    [Fact]
    public async Task A_client_with_the_default_order_gets_AES_128_GCM_from_the_server()
    {
        // OpenSSL's own order puts TLS_AES_256_GCM_SHA384 first: the server's preference decides.
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = new TestNode("B");
        a.Admission.Admit(b.Id);
        var options = LinkOptions(a, b, BulkWire.Alpn);
        options.CipherSuitesPolicy = null;

        await using var tls = await DialAsync(a, options, ct);

        Assert.Equal(TlsCipherSuite.TLS_AES_128_GCM_SHA256, tls.NegotiatedCipherSuite);
    }

    [Fact]
    public async Task A_peer_that_offers_only_AES_256_GCM_is_still_served()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = new TestNode("B");
        a.Admission.Admit(b.Id);
        var options = LinkOptions(a, b, BulkWire.Alpn);
        options.CipherSuitesPolicy = new CipherSuitesPolicy([TlsCipherSuite.TLS_AES_256_GCM_SHA384]);

        await using var tls = await DialAsync(a, options, ct);

        Assert.Equal(TlsCipherSuite.TLS_AES_256_GCM_SHA384, tls.NegotiatedCipherSuite);
        Assert.Equal(BulkWire.Alpn, tls.NegotiatedApplicationProtocol);
    }
}
