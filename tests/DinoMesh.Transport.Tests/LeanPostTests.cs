using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Posts (<see cref="PeerTransport.PostAsync"/>): one-way messages on the lean path, a call with id 0 that the server
/// runs and never answers. SWIM sends every message this way.
/// </summary>
public class LeanPostTests
{
    private const string Recorded = "/test/recorded/1";

    /// <summary>A node whose <see cref="Recorded"/> protocol keeps each request with the transport it came over; 0xFF alone is refused (BadRequest).</summary>
    private static async Task<(TestNode Node, ConcurrentQueue<(string Transport, byte[] Body)> Seen)> StartAsync(string name, bool inline = true)
    {
        var node = new TestNode(name);
        var seen = new ConcurrentQueue<(string, byte[])>();
        node.Transport.RegisterUnary(Recorded, 64 * 1024, (peer, request, _) =>
        {
            if (request.Length == 1 && request.Span[0] == 0xFF) throw new PeerCallException(CallFailure.BadRequest, "byte 0xFF is refused");
            seen.Enqueue((peer.Transport, request.ToArray()));
            return ValueTask.FromResult("answer"u8.ToArray());
        }, inline);
        return (await node.StartWithEchoAsync(), seen);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Posts_reach_the_handler_over_the_lean_path_each_once(bool inline)
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, seen) = await StartAsync("A", inline);
        await using var _ = a;
        await using var b = new TestNode("B");
        await b.StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        for (var i = 0; i < 100; i++)
        {
            var result = await b.Transport.PostAsync(a.Address, a.Id, Recorded, BitConverter.GetBytes(i), TimeSpan.FromSeconds(10), ct);
            Assert.True(result.Ok, result.ToString());
        }

        await Poll.UntilAsync(() => seen.Count >= 100, TimeSpan.FromSeconds(10), ct);
        await Task.Delay(100, ct);
        var bodies = seen.ToArray();
        Assert.Equal(100, bodies.Length);
        Assert.All(bodies, s => Assert.Equal(WireHeaders.Lean, s.Transport));
        var numbers = bodies.Select(s => BitConverter.ToInt32(s.Body)).ToArray();
        if (inline) Assert.Equal(Enumerable.Range(0, 100), numbers); // read and handled in order on the connection's reader
        else Assert.Equal(Enumerable.Range(0, 100), numbers.Order());
        Assert.Equal(1, a.Transport.IncomingConnections.Open);
    }

    [Fact]
    public async Task The_server_answers_a_post_with_nothing_and_the_call_after_it_with_its_own_answer()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, seen) = await StartAsync("A");
        await using var _ = a;
        await using var b = new TestNode("B");
        await b.StartWithEchoAsync();
        a.Admission.Admit(b.Id);
        await using var tls = await DialLeanAsync(a, b.Identity, ct);

        // A post, a post the handler refuses (BadRequest: a call would be answered with the failure), then call 1.
        var frames = new ArrayBufferWriter<byte>();
        LeanWire.WriteCall(frames, LeanWire.PostId, LeanWire.ProtocolIdBytes(Recorded), TimeSpan.FromSeconds(5), "posted"u8);
        LeanWire.WriteCall(frames, LeanWire.PostId, LeanWire.ProtocolIdBytes(Recorded), TimeSpan.FromSeconds(5), [0xFF]);
        LeanWire.WriteCall(frames, 1, LeanWire.ProtocolIdBytes(Recorded), TimeSpan.FromSeconds(5), "called"u8);
        await tls.WriteAsync(frames.WrittenMemory, ct);

        var (kind, id, status, body) = await ReadFrameAsync(tls, ct);
        Assert.Equal(LeanWire.Answer, kind);
        Assert.Equal(1u, id);
        Assert.Equal(CallFailure.None, status);
        Assert.Equal("answer"u8.ToArray(), body);
        Assert.Equal(["posted", "called"], seen.Select(s => System.Text.Encoding.UTF8.GetString(s.Body)));

        // Nothing else was sent for the posts: the next frame is the pong of a ping sent now.
        var ping = new ArrayBufferWriter<byte>();
        LeanWire.WriteControl(ping, LeanWire.Ping, 7);
        await tls.WriteAsync(ping.WrittenMemory, ct);
        var pong = await ReadFrameAsync(tls, ct);
        Assert.Equal((LeanWire.Pong, 7u), (pong.Kind, pong.Id));
    }

    [Fact]
    public async Task A_post_whose_handler_fails_leaves_the_connection_in_use()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, seen) = await StartAsync("A");
        await using var _ = a;
        await using var b = new TestNode("B");
        await b.StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        var failing = await b.Transport.PostAsync(a.Address, a.Id, Recorded, new byte[] { 0xFF }, TimeSpan.FromSeconds(10), ct);
        var call = await b.Transport.CallAsync(a.Address, a.Id, Recorded, "after"u8.ToArray(), TimeSpan.FromSeconds(10), ct);

        Assert.True(failing.Ok, failing.ToString()); // queued: a post never learns how its handler fared
        Assert.True(call.Ok, call.ToString());
        Assert.Equal("answer"u8.ToArray(), call.Value);
        Assert.Equal(WireHeaders.Lean, Assert.Single(seen).Transport);
        Assert.Equal(1, a.Transport.IncomingConnections.Open);
        await Poll.UntilAsync(() => a.Log.Contains("byte 0xFF is refused"), TimeSpan.FromSeconds(5), ct);
    }

    [Fact]
    public async Task Posts_of_a_caller_that_is_not_admitted_never_reach_the_handler_and_are_then_refused_with_the_reason()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, seen) = await StartAsync("A");
        await using var _ = a;
        await using var stranger = new TestNode("S");
        await stranger.StartWithEchoAsync();

        CallResult<bool> result = default;
        for (var i = 0; i < 50 && result.Failure != CallFailure.Refused; i++)
        {
            result = await stranger.Transport.PostAsync(a.Address, a.Id, Recorded, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
            if (result.Failure != CallFailure.Refused) await Task.Delay(50, ct);
        }

        Assert.Equal(CallFailure.Refused, result.Failure);
        Assert.Contains("not an admitted member", result.Detail);
        Assert.Empty(seen);
    }

    [Fact]
    public async Task A_server_that_answers_posts_as_calls_does_not_disturb_the_callers_other_calls()
    {
        // What a server that predates posts does: it answers call id 0 like any call. The caller drops that answer.
        var ct = TestContext.Current.CancellationToken;
        await using var server = await AnsweringEverythingServer.StartAsync();
        await using var b = new TestNode("B");
        await b.StartWithEchoAsync();

        for (var i = 0; i < 20; i++)
        {
            var post = await b.Transport.PostAsync(server.Address, server.Id, Recorded, BitConverter.GetBytes(-i), TimeSpan.FromSeconds(10), ct);
            Assert.True(post.Ok, post.ToString());
            var call = await b.Transport.CallAsync(server.Address, server.Id, Recorded, BitConverter.GetBytes(i), TimeSpan.FromSeconds(10), ct);
            Assert.True(call.Ok, call.ToString());
            Assert.Equal(i, BitConverter.ToInt32(call.Value!));
        }
        Assert.Equal(40, server.Calls);
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task A_connection_that_carries_only_posts_to_a_peer_gone_silent_is_given_up_and_dialled_again()
    {
        // The peer reads everything and answers nothing, not even pings: a machine gone without a reset looks so.
        var ct = TestContext.Current.CancellationToken;
        await using var silent = FakeLeanServer.Start([LeanWire.Alpn], async (tls, token) =>
        {
            var sink = new byte[4096];
            while (await tls.ReadAsync(sink, token) > 0)
            {
            }
        });
        // 2 s of silence instead of the node's 20 before a post takes a ping along: the mechanism is the same.
        var liveness = TimeSpan.FromSeconds(2);
        await using var b = new TestNode("B", new TransportOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            DefaultDeadline = TimeSpan.FromSeconds(5),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(1),
            PostLivenessInterval = liveness,
        });
        await b.StartWithEchoAsync();

        Assert.True((await b.Transport.PostAsync(silent.Address, silent.Id, Recorded, new byte[] { 1 }, TimeSpan.FromSeconds(5), ct)).Ok);
        // Past the liveness interval with nothing heard: the next post takes a ping along, which gets no pong.
        await Task.Delay(liveness + TimeSpan.FromSeconds(1), ct);
        Assert.True((await b.Transport.PostAsync(silent.Address, silent.Id, Recorded, new byte[] { 2 }, TimeSpan.FromSeconds(5), ct)).Ok);
        await Task.Delay(TimeSpan.FromSeconds(2), ct);
        Assert.Equal(1, silent.Connections);

        // The ping went unanswered past its timeout: the connection is given up, and the next post dials a new one.
        Assert.True((await b.Transport.PostAsync(silent.Address, silent.Id, Recorded, new byte[] { 3 }, TimeSpan.FromSeconds(5), ct)).Ok);
        await Poll.UntilAsync(() => silent.Connections == 2, TimeSpan.FromSeconds(5), ct);
    }

    private static async Task<SslStream> DialLeanAsync(TestNode server, NodeIdentity client, CancellationToken ct)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Transport.ListenEndPoint!, ct);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "dinomesh",
            EnabledSslProtocols = SslProtocols.Tls13,
            ApplicationProtocols = [LeanWire.Alpn],
            ClientCertificateContext = SslStreamCertificateContext.Create(client.Certificate, null, offline: true),
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
        }, ct);
        Assert.Equal(LeanWire.Alpn, tls.NegotiatedApplicationProtocol);
        return tls;
    }

    /// <summary>Reads one server frame: an answer (kind, id, status, body) or a control frame (kind, value).</summary>
    private static async Task<(byte Kind, uint Id, CallFailure Status, byte[] Body)> ReadFrameAsync(Stream tls, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var head = new byte[LeanWire.ControlSize];
        await tls.ReadExactlyAsync(head, timeout.Token);
        var id = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(1));
        if (head[0] != LeanWire.Answer) return (head[0], id, CallFailure.None, []);
        var rest = new byte[5];
        await tls.ReadExactlyAsync(rest, timeout.Token);
        var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(rest.AsSpan(1))];
        await tls.ReadExactlyAsync(body, timeout.Token);
        return (head[0], id, (CallFailure)rest[0], body);
    }

    /// <summary>A lean-path server that answers every call it reads, post or not, with the request itself.</summary>
    private sealed class AnsweringEverythingServer : IAsyncDisposable
    {
        private readonly FakeLeanServer _server;
        private int _calls;

        private AnsweringEverythingServer()
        {
            _server = FakeLeanServer.Start([LeanWire.Alpn], async (tls, ct) =>
            {
                while (true)
                {
                    var (id, message) = await FakeLeanServer.ReadCallAsync(tls, ct);
                    Interlocked.Increment(ref _calls);
                    var answer = new ArrayBufferWriter<byte>();
                    LeanWire.WriteAnswer(answer, id, CallFailure.None, message);
                    await tls.WriteAsync(answer.WrittenMemory, ct);
                }
            });
        }

        public Core.Identity.PeerId Id => _server.Id;

        public string Address => _server.Address;

        public int Calls => Volatile.Read(ref _calls);

        public int Connections => _server.Connections;

        public static Task<AnsweringEverythingServer> StartAsync() => Task.FromResult(new AnsweringEverythingServer());

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }
}
