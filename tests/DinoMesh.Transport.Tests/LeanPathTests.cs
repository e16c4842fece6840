using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// The lean path: small unary calls (<see cref="PeerTransport.CallAsync"/>) multiplexed over one TLS connection per
/// peer, chosen by ALPN on the peer port. Each test asserts which transport the handler saw, so a silent fallback to
/// HTTP/2 cannot pass for the lean path.
/// </summary>
public class LeanPathTests
{
    private const string Seen = SeenProtocol.Id;
    private const string Small = "/test/small/1";

    /// <summary>A node serving echo, a protocol that answers the transport its caller came over, and one bounded to 16 bytes.</summary>
    private static async Task<TestNode> StartAsync(string name, TransportOptions? options = null, Func<byte[], CancellationToken, Task<byte[]>>? slow = null)
    {
        var node = new TestNode(name, options);
        SeenProtocol.Register(node, 64 * 1024, slow);
        node.Transport.RegisterUnary(Small, 16, static (_, request, _) => ValueTask.FromResult(request.ToArray()));
        return await node.StartWithEchoAsync();
    }

    private static TransportOptions Options(bool serveLean = true) => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        ConnectTimeout = TimeSpan.FromSeconds(3),
        DefaultDeadline = TimeSpan.FromSeconds(5),
        ServeLean = serveLean,
    };

    private static (string Transport, byte[] Body) Split(byte[] answer) => SeenProtocol.Split(answer);

    [Fact]
    public async Task Small_calls_go_over_the_lean_path_and_share_one_connection()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A");
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);

        for (var i = 0; i < 5; i++)
        {
            var result = await b.Transport.CallAsync(a.Address, a.Id, Seen, BitConverter.GetBytes(i), TimeSpan.FromSeconds(10), ct);
            Assert.True(result.Ok, result.ToString());
            Assert.Equal(a.Id, result.Peer);
            var (transport, body) = Split(result.Value!);
            Assert.Equal(WireHeaders.Lean, transport);
            Assert.Equal(i, BitConverter.ToInt32(body));
        }
        Assert.Equal(1, a.Transport.IncomingConnections.Open);
        var link = Assert.Single(b.Transport.Links);
        Assert.Equal(WireHeaders.Lean, link.Transport);
        Assert.NotNull(link.LastRtt);
    }

    [Fact]
    public async Task Many_concurrent_calls_each_get_their_own_answer_over_one_connection()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A", slow: async (request, token) =>
        {
            // Answers finish out of order: a call's answer must still find its caller.
            await Task.Delay(Random.Shared.Next(0, 20), token);
            return [.. System.Text.Encoding.UTF8.GetBytes(WireHeaders.Lean + "|"), .. request];
        });
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);
        var warm = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
        Assert.True(warm.Ok, warm.ToString());

        var payloads = Enumerable.Range(0, 200).Select(i =>
        {
            var bytes = new byte[4 + Random.Shared.Next(0, 3000)];
            Random.Shared.NextBytes(bytes);
            BinaryPrimitives.WriteInt32BigEndian(bytes, i);
            return bytes;
        }).ToArray();
        var answers = await Task.WhenAll(payloads.Select(p => b.Transport.CallAsync(a.Address, a.Id, Seen, p, TimeSpan.FromSeconds(20), ct)));

        for (var i = 0; i < answers.Length; i++)
        {
            Assert.True(answers[i].Ok, answers[i].ToString());
            Assert.Equal(payloads[i], Split(answers[i].Value!).Body);
        }
        Assert.Equal(1, a.Transport.IncomingConnections.Open);
    }

    [Fact]
    public async Task Failures_are_typed_as_over_http2_and_leave_the_connection_in_use()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A");
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);
        var deadline = TimeSpan.FromSeconds(10);

        var refused = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 0xFF }, deadline, ct);
        var unknown = await b.Transport.CallAsync(a.Address, a.Id, "/test/nothing/9", new byte[] { 1 }, deadline, ct);
        var tooLarge = await b.Transport.CallAsync(a.Address, a.Id, Small, new byte[17], deadline, ct);
        var answerTooLarge = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, new byte[4096], deadline, ct, 1024);
        var after = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 1 }, deadline, ct);

        Assert.Equal(CallFailure.BadRequest, refused.Failure);
        Assert.Contains("0xFF", refused.Detail, StringComparison.Ordinal);
        Assert.Equal(CallFailure.UnknownProtocol, unknown.Failure);
        Assert.Equal(CallFailure.TooLarge, tooLarge.Failure);
        Assert.Equal(CallFailure.TooLarge, answerTooLarge.Failure);
        Assert.True(after.Ok, after.ToString());
        Assert.Equal(WireHeaders.Lean, Split(after.Value!).Transport);
        Assert.Equal(1, a.Transport.IncomingConnections.Open);
    }

    [Fact]
    public async Task A_request_over_the_lean_bound_goes_over_http2()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync(2 * LeanWire.MaxRequestBytes);
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);
        var big = new byte[LeanWire.MaxRequestBytes + 1];
        Random.Shared.NextBytes(big);

        var result = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, big, TimeSpan.FromSeconds(10), ct);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal(big, result.Value);
        Assert.Equal(WireHeaders.H2, Assert.Single(b.Transport.Links).Transport);
    }

    [Fact]
    public async Task The_deadline_travels_with_the_call_and_a_late_answer_does_not_disturb_the_next_call()
    {
        var ct = TestContext.Current.CancellationToken;
        var handlerCancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await StartAsync("A", slow: async (request, token) =>
        {
            if (request[0] == 2) return [.. "lean|"u8, .. request];
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(30), token);
            }
            catch (OperationCanceledException)
            {
                handlerCancelled.TrySetResult(true);
                throw;
            }
            return [];
        });
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);

        var result = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromMilliseconds(500), ct);
        var next = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 2 }, TimeSpan.FromSeconds(10), ct);

        Assert.Equal(CallFailure.Timeout, result.Failure);
        Assert.True(await handlerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10), ct), "the server's handler was not cancelled at the caller's deadline");
        Assert.True(next.Ok, next.ToString());
        Assert.Equal(new byte[] { 2 }, Split(next.Value!).Body);
        Assert.Equal(1, a.Transport.IncomingConnections.Open);
    }

    [Fact]
    public async Task The_callers_cancellation_is_cancelled_not_timeout()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A", slow: async (_, token) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), token);
            return [];
        });
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(300));

        var result = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(20), cancel.Token);

        Assert.Equal(CallFailure.Cancelled, result.Failure);
    }

    [Fact]
    public async Task A_peer_without_the_lean_path_is_called_over_http2()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A", Options(serveLean: false));
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);

        var first = await b.Transport.CallAsync(a.Address, a.Id, Seen, "x"u8.ToArray(), TimeSpan.FromSeconds(10), ct);
        var second = await b.Transport.CallAsync(a.Address, a.Id, Seen, "y"u8.ToArray(), TimeSpan.FromSeconds(10), ct);

        Assert.True(first.Ok, first.ToString());
        Assert.Equal(WireHeaders.H2, Split(first.Value!).Transport);
        Assert.Equal("x"u8.ToArray(), Split(first.Value!).Body);
        Assert.True(second.Ok, second.ToString());
        Assert.Equal(WireHeaders.H2, Split(second.Value!).Transport);
    }

    [Fact]
    public async Task A_caller_that_is_not_admitted_is_turned_away_and_refused_with_the_reason()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A");
        await using var stranger = await StartAsync("S");

        // Not idempotent: the lean connection's goaway says nothing was read, so HTTP/2 carries it and refuses it.
        var result = await stranger.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);

        Assert.Equal(CallFailure.Refused, result.Failure);
        await Poll.UntilAsync(() => a.Log.Contains("refused a lean connection"), TimeSpan.FromSeconds(5), ct);
    }

    [Fact]
    public async Task A_member_removed_while_connected_is_refused_on_its_open_lean_connection()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A");
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);
        var before = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
        Assert.True(before.Ok, before.ToString());
        Assert.Equal(WireHeaders.Lean, Split(before.Value!).Transport);

        a.Admission.Remove(b.Id);
        var after = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 2 }, TimeSpan.FromSeconds(10), ct);

        Assert.Equal(CallFailure.Refused, after.Failure);
    }

    [Fact]
    public async Task A_server_that_stops_mid_call_fails_a_call_that_is_not_idempotent_without_sending_it_again()
    {
        var ct = TestContext.Current.CancellationToken;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;
        // What this test checks is how a lean call ends, not how fast anything is: every bound here is far beyond what
        // the steps take (the stop takes its 2 s grace, the rest milliseconds). On a machine whose thread pool is
        // starved (CI under load 20-30) the steps after the lean handshake wait for pool threads: the call reached the
        // server more than 5 s after the handshake (ConnectionLimits.FirstRequestTimeout), the server closed the
        // connection as one that sent no request (goaway, nothing read), and the call went over HTTP/2 instead, whose
        // stop ends it another way; and the 10, 20 and 5 s bounds below were as tight (it failed once with a Timeout).
        // Reproduced by blocking 12 or 24 pool threads for 8 s: the call went over HTTP/2 ("Connection reset by
        // peer"), or the handler was entered after 10 s; with the bounds here it stays on the lean path and passes.
        var patient = Options() with
        {
            ConnectTimeout = TimeSpan.FromSeconds(30),
            Limits = new ConnectionLimits { FirstRequestTimeout = TimeSpan.FromSeconds(30) },
        };
        var a = await StartAsync("A", patient, slow: async (_, token) =>
        {
            Interlocked.Increment(ref runs);
            entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, token);
            return [];
        });
        await using var b = await StartAsync("B", patient);
        a.Admission.Admit(b.Id);
        var address = a.Address;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var call = b.Transport.CallAsync(address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(90), ct);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
        var enteredAt = clock.Elapsed;
        await a.DisposeAsync();
        var stoppedAt = clock.Elapsed;
        var result = await call;

        // Not idempotent and read by the server: never sent again, and not a timeout either. Only the lean path says
        // "may have reached" (its connection ended after the call was written).
        var story = $"handler entered at {enteredAt.TotalSeconds:F1} s, server stopped at {stoppedAt.TotalSeconds:F1} s, call ended at {clock.Elapsed.TotalSeconds:F1} s: {result}";
        Assert.True(result.Failure == CallFailure.Unreachable, story);
        Assert.Contains("may have reached", result.Detail, StringComparison.Ordinal);
        Assert.Equal(1, runs);
        var later = await b.Transport.CallAsync(address, a.Id, Seen, new byte[] { 2 }, TimeSpan.FromSeconds(30), ct);
        Assert.True(later.Failure == CallFailure.Unreachable, $"{story}; the call after: {later} ({later.Elapsed.TotalSeconds:F1} s)");
    }

    [Fact]
    public async Task After_a_goaway_the_calls_the_server_read_are_still_answered_while_new_calls_take_a_new_connection()
    {
        var ct = TestContext.Current.CancellationToken;
        var slowEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await StartAsync("A", slow: async (request, token) =>
        {
            switch (request[0])
            {
                case 1:
                    slowEntered.TrySetResult();
                    await Task.Delay(TimeSpan.FromMilliseconds(700), token);
                    break;
                case 2:
                    // A refusal from a handler ends the connection: the server says goaway after the calls it read.
                    throw new PeerCallException(CallFailure.Refused, "not this one");
            }
            return [.. "lean|"u8, .. request];
        });
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);

        var slow = b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(20), ct);
        await slowEntered.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
        var refused = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 2 }, TimeSpan.FromSeconds(10), ct);
        var next = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 3 }, TimeSpan.FromSeconds(10), ct);
        var slowResult = await slow;

        Assert.Equal(CallFailure.Refused, refused.Failure);
        Assert.True(next.Ok, next.ToString());
        Assert.Equal(new byte[] { 3 }, Split(next.Value!).Body);
        // Read before the goaway, so answered on the old connection, which was left to finish.
        Assert.True(slowResult.Ok, slowResult.ToString());
        Assert.Equal(new byte[] { 1 }, Split(slowResult.Value!).Body);
    }

    [Fact]
    public async Task A_call_whose_connection_breaks_after_sending_is_sent_again_over_http2_only_when_idempotent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var b = await StartAsync("B");
        await using var cutter = await CuttingServer.StartAsync(ct);
        b.Admission.Admit(cutter.Id);

        var once = await b.Transport.CallAsync(cutter.Address, cutter.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
        Assert.Equal(CallFailure.Unreachable, once.Failure);
        Assert.Contains("may have reached", once.Detail, StringComparison.Ordinal);
        Assert.Equal(1, cutter.LeanCalls);
        Assert.Equal(0, cutter.Http2Connections);

        var twice = await b.Transport.CallAsync(cutter.Address, cutter.Id, Seen, new byte[] { 2 }, TimeSpan.FromSeconds(10), ct, idempotent: true);
        // The cutter serves no HTTP/2, so the second try fails too; what matters is that it was made.
        Assert.False(twice.Ok);
        Assert.Equal(2, cutter.LeanCalls);
        Assert.Equal(1, cutter.Http2Connections);
    }

    /// <summary>
    /// A peer that reads one lean call per connection and then cuts the connection without answering, and counts the
    /// HTTP/2 connections it is offered (and drops them).
    /// </summary>
    private sealed class CuttingServer : IAsyncDisposable
    {
        private readonly FakeLeanServer _server;
        private int _leanCalls;
        private int _http2;

        private CuttingServer()
        {
            _server = FakeLeanServer.Start([LeanWire.Alpn, SslApplicationProtocol.Http2], async (tls, ct) =>
            {
                if (tls.NegotiatedApplicationProtocol != LeanWire.Alpn)
                {
                    Interlocked.Increment(ref _http2);
                    return;
                }
                // Read one whole call, then hang up without a word.
                await FakeLeanServer.ReadCallAsync(tls, ct);
                Interlocked.Increment(ref _leanCalls);
            });
        }

        public Core.Identity.PeerId Id => _server.Id;

        public string Address => _server.Address;

        public int LeanCalls => Volatile.Read(ref _leanCalls);

        public int Http2Connections => Volatile.Read(ref _http2);

        public static Task<CuttingServer> StartAsync(CancellationToken ct) => Task.FromResult(new CuttingServer());

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }
}
