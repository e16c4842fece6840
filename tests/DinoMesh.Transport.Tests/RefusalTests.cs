using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using DinoMesh.Core.Identity;
using DinoMesh.Transport.Framing;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Join;

namespace DinoMesh.Transport.Tests;

public class RefusalTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_peer_that_is_not_admitted_is_refused_and_its_connection_closed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();

        var result = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, "hi"u8.ToArray(), Deadline, ct);

        Assert.Equal(CallFailure.Refused, result.Failure);
        Assert.True(a.Log.Contains($"refused {b.Id.Hex}"), "the server logs the refusal with the caller's PeerId");
        Assert.True(a.Log.Contains("closing the connection"));
    }

    [Fact]
    public async Task Join_with_a_wrong_secret_or_cluster_is_refused_and_the_peer_stays_out()
    {
        var ct = TestContext.Current.CancellationToken;
        var token = JoinToken.Create();
        await using var a = await StartJoinableAsync("A", token);
        await using var b = await new TestNode("B").StartWithEchoAsync();

        var wrongSecret = await JoinClient.JoinAsync(b.Transport, a.Address, JoinToken.Create(token.ClusterId), Deadline, ct);
        var wrongCluster = await JoinClient.JoinAsync(b.Transport, a.Address, JoinToken.Create(), Deadline, ct);
        var echo = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, "hi"u8.ToArray(), Deadline, ct);

        Assert.Equal(CallFailure.Refused, wrongSecret.Failure);
        Assert.Equal(CallFailure.Refused, wrongCluster.Failure);
        Assert.False(a.Admission.IsAdmitted(b.Id));
        Assert.Equal(CallFailure.Refused, echo.Failure);
        Assert.True(a.Log.Contains("invalid join credential"));
    }

    [Fact]
    public async Task Join_with_the_right_token_is_accepted_then_the_peer_is_admitted()
    {
        var ct = TestContext.Current.CancellationToken;
        var token = JoinToken.Create();
        await using var a = await StartJoinableAsync("A", token);
        await using var b = await new TestNode("B").StartWithEchoAsync();

        var joined = await JoinClient.JoinAsync(b.Transport, a.Address, JoinToken.Parse(token.ToString()), Deadline, ct);

        Assert.True(joined.Ok, joined.ToString());
        Assert.Equal(a.Id, joined.Value!.Member);
        Assert.Equal(token.ClusterIdHex, joined.Value.ClusterIdHex);
        Assert.Equal([a.Id], joined.Value.Founders);
        Assert.Contains(new ClusterMemberInfo(b.Id, b.Transport.Advertise), joined.Value.Members);
        Assert.True(a.Admission.IsAdmitted(b.Id));
        // The node's admitter logs the admission; the gate must not log it a second time (issue 11).
        Assert.DoesNotContain(a.Log.Lines, l => l.Contains("Information DinoMesh.Transport.Join", StringComparison.Ordinal));

        // Now a member: the same peer may call other protocols, pinning the PeerId it learned from the join.
        var echo = await b.Transport.CallAsync(a.Address, joined.Value.Founders[0], TestNode.Echo, "hi"u8.ToArray(), Deadline, ct);
        Assert.True(echo.Ok, echo.ToString());
    }

    [Fact]
    public async Task An_unknown_certificate_calling_a_non_join_protocol_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var stranger = StrangerCertificate();
        TestContext.Current.TestOutputHelper?.WriteLine($"cert {sw.ElapsedMilliseconds} ms");
        using var client = RawClient(stranger);

        using var response = await client.SendAsync(RawRequest(a.Address, TestNode.Echo), ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"call {sw.ElapsedMilliseconds} ms");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.True(a.Log.Contains($"refused {PeerCertificate.PeerIdOf(stranger).Hex}"));
    }

    [Fact]
    public async Task A_client_without_a_certificate_fails_the_handshake()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        using var client = RawClient(certificate: null);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(RawRequest(a.Address, TestNode.Echo), ct));

        TestContext.Current.TestOutputHelper?.WriteLine($"{error.HttpRequestError}: {error.Message}");
    }

    [Fact]
    public async Task A_server_whose_key_is_not_the_expected_PeerId_is_an_IdentityMismatch()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        await using var c = new TestNode("C");
        a.Admission.Admit(b.Id);

        // B dials A's address believing it is C.
        var result = await b.Transport.CallAsync(a.Address, c.Id, TestNode.Echo, "hi"u8.ToArray(), Deadline, ct);

        Assert.Equal(CallFailure.IdentityMismatch, result.Failure);
        Assert.Contains(c.Id.Hex, result.Detail, StringComparison.Ordinal);
        Assert.Contains(a.Id.Hex, result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_an_expected_PeerId_a_server_that_is_not_a_member_is_an_IdentityMismatch()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id); // A lets B in, but B does not count A as a member

        var result = await b.Transport.CallAsync(a.Address, null, TestNode.Echo, "hi"u8.ToArray(), Deadline, ct);

        Assert.Equal(CallFailure.IdentityMismatch, result.Failure);
        Assert.Contains("not an admitted member", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plain_TCP_client_gets_no_answer_and_the_server_keeps_serving()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        foreach (var plaintext in new[] { $"POST {TestNode.Echo} HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" })
        {
            var received = await SendPlaintextAsync(a.Transport.ListenEndPoint!, Encoding.ASCII.GetBytes(plaintext), ct);
            TestContext.Current.TestOutputHelper?.WriteLine($"plaintext client received {received.Length} bytes: {Convert.ToHexString(received)}");
            Assert.DoesNotContain("HTTP", Encoding.ASCII.GetString(received), StringComparison.Ordinal);
            // At most a TLS alert record (content type 21), never application data.
            Assert.True(received.Length == 0 || received[0] == 21, "only a TLS alert may come back");
        }

        var echo = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, "still here"u8.ToArray(), Deadline, ct);
        Assert.True(echo.Ok, echo.ToString());
    }

    internal static async Task<byte[]> SendPlaintextAsync(IPEndPoint endPoint, byte[] bytes, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        await socket.ConnectAsync(endPoint, timeout.Token);
        try
        {
            await socket.SendAsync(bytes, SocketFlags.None, timeout.Token);
        }
        catch (SocketException)
        {
            return []; // closed on us already
        }
        var received = new List<byte>();
        var buffer = new byte[4096];
        try
        {
            while (received.Count < 64 * 1024)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (n == 0) break;
                received.AddRange(buffer.AsSpan(0, n));
            }
        }
        catch (SocketException)
        {
            // reset by the server: also "nothing"
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // the server kept the socket open silently until the handshake timeout; nothing was sent
        }
        return received.ToArray();
    }

    private static async Task<TestNode> StartJoinableAsync(string name, JoinToken token)
    {
        var node = new TestNode(name);
        var founders = new[] { node.Id };
        var members = new List<ClusterMemberInfo>();
        node.Transport.RegisterJoin(new JoinGate(token, node.Id, (applicant, _) =>
        {
            // What the node would do: commit the admission, then answer with the membership it now has.
            node.Admission.Admit(applicant.Peer);
            lock (members)
            {
                members.Add(new ClusterMemberInfo(applicant.Peer, applicant.Advertise));
                var list = members.Prepend(new ClusterMemberInfo(node.Id, node.Address)).ToArray();
                return ValueTask.FromResult(JoinDecision.Admit(list, founders));
            }
        }, node.Log));
        return await node.StartWithEchoAsync();
    }

    private static X509Certificate2 StrangerCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest("CN=stranger", key, HashAlgorithmName.SHA384);
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static HttpClient RawClient(X509Certificate2? certificate)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(3),
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = SslProtocols.Tls13,
#pragma warning disable CA5359 // a hostile client does not care whom it talks to
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
                ClientCertificates = certificate is null ? null : new X509CertificateCollection { certificate },
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
    }

    private static HttpRequestMessage RawRequest(string address, string path) =>
        new(HttpMethod.Post, $"https://{address}{path}")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(FrameWriter.Encode("hi"u8)),
        };
}
