using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DinoMesh.Transport.Bulk;
using DinoMesh.Transport.Identity;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Bulk connections taken at accept, past Kestrel (<c>DirectConnections</c>): the listener reads the ClientHello and a
/// connection offering only the bulk ALPN id gets its TLS over the socket itself. Each test checks that the connection
/// took that path (<see cref="PeerTransport.DirectBulkConnections"/>), so Kestrel's bulk path cannot pass for it.
/// </summary>
public class BulkListenerTests
{
    private static TransportOptions Options(ConnectionLimits? limits = null) => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        ConnectTimeout = TimeSpan.FromSeconds(3),
        DefaultDeadline = TimeSpan.FromSeconds(5),
        Limits = limits ?? new ConnectionLimits(),
    };

    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task An_admitted_member_is_served_past_Kestrel_with_megabytes_both_ways_on_one_connection()
    {
        var ct = TestContext.Current.CancellationToken;
        var server = new TestNode("A");
        SeenProtocol.Register(server, 2 << 20);
        await using var a = await server.StartWithEchoAsync(2 << 20);
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        for (var i = 0; i < 3; i++)
        {
            var payload = Random(1 << 20, i);
            var result = await b.Transport.CallBulkAsync(a.Address, a.Id, SeenProtocol.Id, payload, TimeSpan.FromSeconds(10), ct, 2 << 20);
            Assert.True(result.Ok, result.ToString());
            var (transport, body) = SeenProtocol.Split(result.Value!);
            Assert.Equal(WireHeaders.Bulk, transport);
            Assert.Equal(payload, body);
        }
        Assert.Equal(1, a.Transport.DirectBulkConnections);
        Assert.Equal(1, a.Transport.IncomingConnections.Open);
    }

    [Fact]
    public async Task A_server_that_leaves_bulk_connections_to_Kestrel_still_serves_the_same_calls()
    {
        // What a node from before this change does (and this one, for a ClientHello its listener cannot read): the
        // caller cannot tell, so nodes of both versions call each other's bulk path.
        var ct = TestContext.Current.CancellationToken;
        var server = new TestNode("A", Options() with { TakeBulkAtAccept = false });
        SeenProtocol.Register(server, 2 << 20);
        await using var a = await server.StartWithEchoAsync(2 << 20);
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        var payload = Random(1 << 20, 3);
        var result = await b.Transport.CallBulkAsync(a.Address, a.Id, SeenProtocol.Id, payload, TimeSpan.FromSeconds(10), ct, 2 << 20);

        Assert.True(result.Ok, result.ToString());
        var (transport, body) = SeenProtocol.Split(result.Value!);
        Assert.Equal(WireHeaders.Bulk, transport);
        Assert.Equal(payload, body);
        Assert.Equal(0, a.Transport.DirectBulkConnections);
    }

    [Fact]
    public async Task A_strangers_bulk_connection_is_closed_after_its_handshake_without_an_answer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var stranger = new TestNode("C");

        await using var tls = await DialBulkAsync(a, stranger, ct);
        try
        {
            await tls.WriteAsync(BulkWire.RequestHeader(TestNode.Echo, TimeSpan.FromSeconds(5), 1), ct);
            await tls.WriteAsync(new byte[] { 42 }, ct);
            await tls.FlushAsync(ct);
        }
        catch (IOException)
        {
            // Already closed: also a refusal.
        }

        Assert.Equal(0, await ServerClose.ReadUntilClosedAsync(tls, TimeSpan.FromSeconds(10), ct));
        Assert.Equal(0, a.Transport.DirectBulkConnections);
        Assert.True(a.Log.Contains("bulk connection of"), "the server says whom it refused");
        Assert.True(a.Log.Contains("not an admitted member"), "and why");
        await Poll.UntilAsync(() => a.Transport.IncomingConnections is { Open: 0, Strangers: 0, Handshaking: 0 }, TimeSpan.FromSeconds(5), ct);
    }

    [Fact]
    public async Task A_member_connection_that_sends_no_request_is_closed_after_the_first_request_deadline()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A", Options(new ConnectionLimits { FirstRequestTimeout = TimeSpan.FromMilliseconds(500) })).StartWithEchoAsync();
        await using var b = new TestNode("B");
        a.Admission.Admit(b.Id);

        await using var tls = await DialBulkAsync(a, b, ct);
        await Poll.UntilAsync(() => a.Transport.DirectBulkConnections == 1, TimeSpan.FromSeconds(5), ct);

        Assert.Equal(0, await ServerClose.ReadUntilClosedAsync(tls, TimeSpan.FromSeconds(10), ct));
        await Poll.UntilAsync(() => a.Transport.IncomingConnections.Open == 0, TimeSpan.FromSeconds(5), ct);
    }

    [Fact]
    public async Task A_request_cut_or_stalled_midway_does_not_wedge_the_server()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync(2 << 20);
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        // One caller announces a megabyte, sends a tenth of it and hangs up; another sends a tenth and then nothing.
        var cut = await DialBulkAsync(a, b, ct);
        await using var stalled = await DialBulkAsync(a, b, ct);
        foreach (var tls in new[] { cut, stalled })
        {
            await tls.WriteAsync(BulkWire.RequestHeader(TestNode.Echo, TimeSpan.FromSeconds(30), 1 << 20), ct);
            await tls.WriteAsync(new byte[100 << 10], ct);
            await tls.FlushAsync(ct);
        }
        await Poll.UntilAsync(() => a.Transport.DirectBulkConnections == 2, TimeSpan.FromSeconds(5), ct);
        await cut.DisposeAsync();

        // Calls on fresh connections are answered meanwhile, and the cut connection's place is given back.
        var payload = Random(1 << 20, 7);
        for (var i = 0; i < 2; i++)
        {
            var result = await b.Transport.CallBulkAsync(a.Address, a.Id, TestNode.Echo, payload, TimeSpan.FromSeconds(10), ct, 2 << 20);
            Assert.True(result.Ok, result.ToString());
            Assert.Equal(payload, result.Value);
        }
        Assert.Equal(3, a.Transport.DirectBulkConnections);
        await Poll.UntilAsync(() => a.Transport.IncomingConnections.Open == 2, TimeSpan.FromSeconds(5), ct); // the stalled one and b's pooled one
    }

    [Fact]
    public async Task Concurrent_calls_are_served_at_the_same_time_on_separate_connections()
    {
        const string Meet = "/test/meet/1";
        const int Calls = 6;
        var ct = TestContext.Current.CancellationToken;
        var server = new TestNode("A");
        var arrived = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Each handler waits until every call is inside a handler: one connection serving its calls one at a time (or
        // a server serving one connection at a time) would never get there, and the calls would time out.
        server.Transport.RegisterUnary(Meet, 2 << 20, async (_, request, ct) =>
        {
            if (Interlocked.Increment(ref arrived) == Calls) all.TrySetResult();
            await all.Task.WaitAsync(ct);
            return request.ToArray();
        });
        await using var a = await server.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        var payloads = Enumerable.Range(0, Calls).Select(i => Random((512 << 10) + i * 1000, i)).ToArray();
        var answers = await Task.WhenAll(payloads.Select(p => b.Transport.CallBulkAsync(a.Address, a.Id, Meet, p, TimeSpan.FromSeconds(15), ct, 2 << 20)));

        for (var i = 0; i < Calls; i++)
        {
            Assert.True(answers[i].Ok, answers[i].ToString());
            Assert.Equal(payloads[i], answers[i].Value);
        }
        Assert.Equal(Calls, a.Transport.DirectBulkConnections);
    }

    [Fact]
    public async Task A_pool_that_serves_twelve_calls_at_once_again_and_again_dials_twelve_connections()
    {
        // A remote read has up to ~12 chunk fetches in flight to one peer (8 chunks of read-ahead and the READs that
        // wait); a pool that kept fewer idle closed the rest after each call and dialled them again on the next round,
        // a TLS handshake (and certificate checks on both ends) each time.
        const string Meet = "/test/meet/1";
        const int Calls = 12;
        var ct = TestContext.Current.CancellationToken;
        var server = new TestNode("A");
        var arrived = 0;
        var round = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Each handler waits until the round's every call is inside a handler, so the calls are truly concurrent.
        server.Transport.RegisterUnary(Meet, 1 << 20, async (_, request, ct) =>
        {
            var mine = Volatile.Read(ref round);
            if (Interlocked.Increment(ref arrived) % Calls == 0) mine.TrySetResult();
            await mine.Task.WaitAsync(ct);
            return request.ToArray();
        });
        await using var a = await server.StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        for (var i = 0; i < 4; i++)
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, Calls).Select(c =>
                b.Transport.CallBulkAsync(a.Address, a.Id, Meet, Random(1000 + c, c), TimeSpan.FromSeconds(15), ct, 1 << 20)));
            Assert.All(answers, answer => Assert.True(answer.Ok, answer.ToString()));
            Volatile.Write(ref round, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        Assert.Equal(Calls, a.Transport.DirectBulkConnections);
    }

    [Fact]
    public async Task Half_a_ClientHello_and_a_hang_up_does_not_hold_a_handshake_place_until_the_handshake_deadline()
    {
        // A peek cannot see the hang-up behind the bytes it returns; the listener must not wait out the 30 s handshake
        // bound for the rest of a record that will never come (a fuzzer's or a dying client's connections would fill
        // the per-address cap of handshakes and lock members out meanwhile).
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A", Options() with { ConnectTimeout = TimeSpan.FromSeconds(30) }).StartWithEchoAsync();
        var hello = await ClientHelloAlpnTests.CaptureAsync([BulkWire.Alpn], ct);

        for (var i = 0; i < 4; i++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(a.Transport.ListenEndPoint!, ct);
            await socket.SendAsync(hello.AsMemory(0, hello.Length / 2), ct);
            socket.Shutdown(SocketShutdown.Send);
        }

        await Poll.UntilAsync(() => a.Transport.IncomingConnections is { Open: 0, Handshaking: 0 }, TimeSpan.FromSeconds(10), ct);
        Assert.Equal(0, a.Transport.DirectBulkConnections);
    }

    [Fact]
    public async Task Stopping_the_server_closes_an_idle_bulk_connection()
    {
        var ct = TestContext.Current.CancellationToken;
        var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = new TestNode("B");
        a.Admission.Admit(b.Id);
        await using var tls = await DialBulkAsync(a, b, ct);
        await tls.WriteAsync(BulkWire.RequestHeader(TestNode.Echo, TimeSpan.FromSeconds(5), 3), ct);
        await tls.WriteAsync("abc"u8.ToArray(), ct);
        await tls.FlushAsync(ct);
        var answer = new byte[BulkWire.AnswerHeaderSize + 3];
        await tls.ReadExactlyAsync(answer, ct);
        Assert.Equal((byte)CallFailure.None, answer[0]);
        Assert.Equal(1, a.Transport.DirectBulkConnections);

        var stopping = a.DisposeAsync().AsTask();
        Assert.Equal(0, await ServerClose.ReadUntilClosedAsync(tls, TimeSpan.FromSeconds(10), ct));
        await stopping;
    }

    /// <summary>A raw bulk connection to <paramref name="server"/> with <paramref name="client"/>'s certificate.</summary>
    private static async Task<SslStream> DialBulkAsync(TestNode server, TestNode client, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.Transport.ListenEndPoint!, ct);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "dinomesh",
            EnabledSslProtocols = SslProtocols.Tls13,
            ApplicationProtocols = [BulkWire.Alpn],
            ClientCertificateContext = SslStreamCertificateContext.Create(client.Identity.Certificate, null, offline: true),
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && PeerCertificate.PeerIdOf(certificate) == server.Id,
        }, ct);
        Assert.Equal(BulkWire.Alpn, tls.NegotiatedApplicationProtocol);
        return tls;
    }
}
