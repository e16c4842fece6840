using System.Runtime.InteropServices;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// The request an answer-then handler gets on the lean path: the connection's receive buffer itself, lent for the
/// handler's run (the lease calls' bodies are not copied first), and the right bytes, whether a body sits in one of the
/// buffer's segments or spans two.
/// </summary>
public class LeanAnswerThenRequestTests
{
    private const string Lent = "/test/answer-then-lent/1";

    [Fact]
    public async Task An_answer_then_handler_is_lent_the_received_bytes_not_a_copy_of_its_own()
    {
        var ct = TestContext.Current.CancellationToken;
        var copies = 0;
        var a = new TestNode("A");
        a.Transport.RegisterAnswerThen(Lent, 1 << 20, (_, request, _) =>
        {
            // A copy of its own would be an array of exactly the body's length (an odd one, below: no pool bucket has it).
            if (MemoryMarshal.TryGetArray(request, out var segment) && segment.Offset == 0 && segment.Array!.Length == request.Length) Interlocked.Increment(ref copies);
            return new AnswerThen(request.ToArray());
        });
        await using var server = await a.StartWithEchoAsync();
        await using var b = await TestNode.LeanCallerOfAsync(server);

        for (var i = 0; i < 20; i++)
        {
            var body = Enumerable.Range(0, 101).Select(k => (byte)(k + i)).ToArray();
            var result = await b.Transport.CallAsync(server.Address, server.Id, Lent, body, TimeSpan.FromSeconds(10), ct);
            Assert.True(result.Ok, result.ToString());
            Assert.Equal(body, result.Value);
        }
        Assert.Equal(0, Volatile.Read(ref copies));
    }

    [Fact]
    public async Task Answer_then_calls_in_flight_together_each_get_their_own_bytes_whatever_their_size()
    {
        var ct = TestContext.Current.CancellationToken;
        var a = new TestNode("A");
        // The answer is a copy made while the request is lent: what the caller gets back is what the handler saw.
        a.Transport.RegisterAnswerThen(Lent, 1 << 20, (_, request, _) => new AnswerThen(request.ToArray()));
        await using var server = await a.StartWithEchoAsync();
        await using var b = await TestNode.LeanCallerOfAsync(server);

        // Sizes from a byte to past the reader's 16 KiB segments, many calls written back to back: some bodies share a
        // read with others, some span two segments (the pooled copy).
        var random = new Random(9);
        for (var round = 0; round < 5; round++)
        {
            var bodies = Enumerable.Range(0, 40).Select(_ =>
            {
                var body = new byte[random.Next(1, 40_000)];
                random.NextBytes(body);
                return body;
            }).ToArray();
            var calls = bodies.Select(body => b.Transport.CallAsync(server.Address, server.Id, Lent, body, TimeSpan.FromSeconds(20), ct)).ToArray();
            var results = await Task.WhenAll(calls);
            for (var i = 0; i < bodies.Length; i++)
            {
                Assert.True(results[i].Ok, results[i].ToString());
                Assert.Equal(bodies[i], results[i].Value);
            }
        }
    }

    [Fact]
    public async Task A_hostile_body_the_handler_refuses_is_answered_and_the_link_keeps_serving_lent_bodies()
    {
        var ct = TestContext.Current.CancellationToken;
        var a = new TestNode("A");
        // As the lease handler does on bytes that do not decode: it throws on the lent body. The caller's end of each
        // call's connection is kept: a refusal that cost the connection would show as a second one.
        var callers = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        a.Transport.RegisterAnswerThen(Lent, 1 << 20, (peer, request, _) =>
        {
            callers[peer.RemoteEndPoint?.ToString() ?? "?"] = true;
            return request.Span[0] == 0xFF ? throw new PeerCallException(CallFailure.BadRequest, "not a batch") : new AnswerThen(request.ToArray());
        });
        await using var server = await a.StartWithEchoAsync();
        await using var b = await TestNode.LeanCallerOfAsync(server);

        // Small and large (past a 16 KiB segment: the pooled copy) refused bodies, each followed by a good one.
        foreach (var size in new[] { 1, 100, 30_000 })
        {
            var hostile = new byte[size];
            Array.Fill(hostile, (byte)0xFF);
            var refused = await b.Transport.CallAsync(server.Address, server.Id, Lent, hostile, TimeSpan.FromSeconds(10), ct);
            Assert.False(refused.Ok);
            Assert.Equal(CallFailure.BadRequest, refused.Failure);

            var good = Enumerable.Range(0, size).Select(k => (byte)(k % 200)).ToArray();
            var served = await b.Transport.CallAsync(server.Address, server.Id, Lent, good, TimeSpan.FromSeconds(10), ct);
            Assert.True(served.Ok, served.ToString());
            Assert.Equal(good, served.Value);
        }
        Assert.Equal(WireHeaders.Lean, Assert.Single(b.Transport.Links).Transport);
        Assert.Single(callers);
    }
}
