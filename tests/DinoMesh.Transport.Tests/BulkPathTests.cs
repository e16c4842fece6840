using System.Net;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// The bulk path: unary calls over a TLS connection of their own, chosen by ALPN on the peer port. Each test asserts
/// which transport the handler saw, so a silent fallback to HTTP/2 cannot pass for the bulk path.
/// </summary>
public class BulkPathTests
{
    private const string Seen = SeenProtocol.Id;

    /// <summary>A node serving echo and a protocol that answers the transport its caller came over.</summary>
    private static async Task<TestNode> StartAsync(string name, TransportOptions? options = null, Func<byte[], CancellationToken, Task<byte[]>>? slow = null)
    {
        var node = new TestNode(name, options);
        SeenProtocol.Register(node, 2 * 1024 * 1024, slow);
        return await node.StartWithEchoAsync();
    }

    private static TransportOptions Options(bool serveBulk = true) => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        ConnectTimeout = TimeSpan.FromSeconds(3),
        DefaultDeadline = TimeSpan.FromSeconds(5),
        ServeBulk = serveBulk,
    };

    private static (string Transport, byte[] Body) Split(byte[] answer) => SeenProtocol.Split(answer);

    [Fact]
    public async Task A_megabyte_goes_both_ways_over_the_bulk_path_and_the_connection_is_reused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A");
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);
        var payload = new byte[1 << 20];
        Random.Shared.NextBytes(payload);

        for (var i = 0; i < 3; i++)
        {
            var result = await b.Transport.CallBulkAsync(a.Address, a.Id, Seen, payload, TimeSpan.FromSeconds(10), ct, 2 << 20);
            Assert.True(result.Ok, result.ToString());
            Assert.Equal(a.Id, result.Peer);
            var (transport, body) = Split(result.Value!);
            Assert.Equal(WireHeaders.Bulk, transport);
            Assert.Equal(payload, body);
        }
        // Three calls one after another: one bulk connection at the server, besides none for HTTP/2.
        var incoming = a.Transport.IncomingConnections;
        Assert.Equal(1, incoming.Open);
    }

    [Fact]
    public async Task A_large_request_keeps_its_own_bytes_until_its_handler_ends_although_requests_share_pooled_arrays()
    {
        // Requests of 64 KiB and more are read into arrays of a shared pool and lent to the handler for the length of
        // its call (12 at once: the server admits 16 handshakes per address). Each call here sends different bytes; the handler fingerprints its request, yields long enough for
        // other calls to arrive and finish, and fingerprints it again: a buffer given back too early, or given to two
        // calls at once, shows as a changed fingerprint or an answer that is another call's.
        const string Hold = "/test/hold/1";
        var ct = TestContext.Current.CancellationToken;
        var server = new TestNode("A");
        server.Transport.RegisterUnary(Hold, 1 << 20, async (peer, request, ct) =>
        {
            var before = System.Security.Cryptography.SHA256.HashData(request.Span);
            await Task.Delay(Random.Shared.Next(1, 30), ct);
            var after = System.Security.Cryptography.SHA256.HashData(request.Span);
            return [(byte)(before.AsSpan().SequenceEqual(after) ? 1 : 0), .. System.Text.Encoding.UTF8.GetBytes(peer.Transport + "|"), .. before];
        });
        await using var a = await server.StartWithEchoAsync();
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);

        var payloads = Enumerable.Range(0, 12).Select(i =>
        {
            var bytes = new byte[(64 << 10) + i * 40_000];
            new Random(i).NextBytes(bytes);
            return bytes;
        }).ToArray();
        for (var round = 0; round < 2; round++)
        {
            var answers = await Task.WhenAll(payloads.Select(p => b.Transport.CallBulkAsync(a.Address, a.Id, Hold, p, TimeSpan.FromSeconds(20), ct, 1024)));
            for (var i = 0; i < payloads.Length; i++)
            {
                Assert.True(answers[i].Ok, answers[i].ToString());
                var answer = answers[i].Value!;
                Assert.Equal(1, answer[0]);
                var (transport, hash) = Split(answer[1..]);
                Assert.Equal(WireHeaders.Bulk, transport);
                Assert.Equal(System.Security.Cryptography.SHA256.HashData(payloads[i]), hash);
            }
        }
    }

    [Fact]
    public async Task Concurrent_calls_each_get_their_own_answer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A");
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);

        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            b.Transport.CallBulkAsync(a.Address, a.Id, Seen, BitConverter.GetBytes(i), TimeSpan.FromSeconds(10), ct)));

        for (var i = 0; i < answers.Length; i++)
        {
            Assert.True(answers[i].Ok, answers[i].ToString());
            var (transport, body) = Split(answers[i].Value!);
            Assert.Equal(WireHeaders.Bulk, transport);
            Assert.Equal(i, BitConverter.ToInt32(body));
        }
    }

    [Fact]
    public async Task A_peer_without_the_bulk_path_is_called_over_http2()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A", Options(serveBulk: false));
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);

        var first = await b.Transport.CallBulkAsync(a.Address, a.Id, Seen, "x"u8.ToArray(), TimeSpan.FromSeconds(10), ct);
        var second = await b.Transport.CallBulkAsync(a.Address, a.Id, Seen, "y"u8.ToArray(), TimeSpan.FromSeconds(10), ct);

        Assert.True(first.Ok, first.ToString());
        Assert.Equal(WireHeaders.H2, Split(first.Value!).Transport);
        Assert.Equal("x"u8.ToArray(), Split(first.Value!).Body);
        Assert.True(second.Ok, second.ToString());
        Assert.Equal(WireHeaders.H2, Split(second.Value!).Transport);
    }

    [Fact]
    public async Task Failures_are_the_same_as_over_http2()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A");
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);

        var refused = await b.Transport.CallBulkAsync(a.Address, a.Id, Seen, new byte[] { 0xFF }, TimeSpan.FromSeconds(10), ct);
        var unknown = await b.Transport.CallBulkAsync(a.Address, a.Id, "/test/nothing/9", new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
        var tooLarge = await b.Transport.CallBulkAsync(a.Address, a.Id, TestNode.Echo, new byte[(1 << 20) + 1], TimeSpan.FromSeconds(10), ct);
        var answerTooLarge = await b.Transport.CallBulkAsync(a.Address, a.Id, TestNode.Echo, new byte[4096], TimeSpan.FromSeconds(10), ct, 1024);
        var after = await b.Transport.CallBulkAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);

        Assert.Equal(CallFailure.BadRequest, refused.Failure);
        Assert.Contains("0xFF", refused.Detail, StringComparison.Ordinal);
        Assert.Equal(CallFailure.UnknownProtocol, unknown.Failure);
        Assert.Equal(CallFailure.TooLarge, tooLarge.Failure);
        Assert.Equal(CallFailure.TooLarge, answerTooLarge.Failure);
        Assert.True(after.Ok, after.ToString());
        Assert.Equal(WireHeaders.Bulk, Split(after.Value!).Transport);
    }

    [Fact]
    public async Task The_deadline_travels_with_the_call()
    {
        var ct = TestContext.Current.CancellationToken;
        var handlerCancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await StartAsync("A", slow: async (_, token) =>
        {
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

        var result = await b.Transport.CallBulkAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromMilliseconds(500), ct);

        Assert.Equal(CallFailure.Timeout, result.Failure);
        Assert.True(await handlerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10), ct), "the server's handler was not cancelled at the caller's deadline");
    }

    [Fact]
    public async Task A_stopping_server_closes_idle_bulk_connections_instead_of_waiting_out_its_grace()
    {
        var ct = TestContext.Current.CancellationToken;
        var a = await StartAsync("A");
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);
        var call = await b.Transport.CallBulkAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
        Assert.True(call.Ok, call.ToString());
        Assert.Equal(1, a.Transport.IncomingConnections.Open); // b's connection, idle in b's pool

        // The server gives open connections 2 s to end before it cuts them; an idle bulk connection must end when asked,
        // so the stop takes nowhere near that long (it took 2.0 s before the connection watched for the request).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await a.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.9), $"stopping took {clock.Elapsed.TotalSeconds:F2} s");
    }

    [Fact]
    public async Task A_caller_that_is_not_admitted_is_refused_on_the_bulk_path_too()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A");
        await using var stranger = await StartAsync("S");

        var result = await stranger.Transport.CallBulkAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);

        // The bulk connection is cut at once; the call then goes over HTTP/2, which refuses it with its reason.
        Assert.Equal(CallFailure.Refused, result.Failure);
        await Poll.UntilAsync(() => a.Log.Contains("refused a bulk connection"), TimeSpan.FromSeconds(5), ct);
    }
}
