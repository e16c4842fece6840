using System.Diagnostics;
using DinoMesh.Transport.Server;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// How a lean session read by a thread of its own ends: after its goaway it answers the calls it read, then keeps
/// reading until its caller hangs up (bounded), so that closing does not reset answers the caller has not read. That wait
/// belongs to the connection's own thread: the handler that finishes last, on a pool thread, must not inherit it.
/// </summary>
public class LeanSessionEndTests
{
    private const string Held = "/test/held/1";

    [Fact]
    public async Task Sessions_ending_as_their_last_handlers_finish_give_the_pool_threads_back_before_their_callers_hang_up()
    {
        const int Sessions = 8;
        var ct = TestContext.Current.CancellationToken;
        // Completed by the test; the handler's continuation (the rest of its session) runs on the completing thread.
        var gates = Enumerable.Range(0, Sessions).Select(_ => new TaskCompletionSource<byte[]>()).ToArray();
        var entered = 0;
        var a = new TestNode("A");
        a.Transport.RegisterUnary(Held, 64, (_, request, _) =>
        {
            Interlocked.Increment(ref entered);
            return new ValueTask<byte[]>(gates[request.Span[0]].Task);
        });
        await using var server = await a.StartWithEchoAsync();
        await using var b = new TestNode("B");
        server.Admission.Admit(b.Id);

        var callers = new System.Net.Security.SslStream[Sessions];
        for (var i = 0; i < Sessions; i++)
        {
            callers[i] = await RawLean.DialAsync(b.Identity, server.Address, server.Id, ct);
            await RawLean.WriteCallAsync(callers[i], 1, Held, [(byte)i], ct);
        }
        await Poll.UntilAsync(() => Volatile.Read(ref entered) == Sessions, TimeSpan.FromSeconds(10), ct);
        Assert.Equal(Sessions, server.Transport.DirectLeanConnectionsOnThreads);

        // Every session ends while its held call runs: the caller is no longer admitted, so its next call is refused and
        // the server says goaway (after call 2), then waits for call 1's handler.
        server.Admission.Remove(b.Id);
        foreach (var caller in callers)
        {
            await RawLean.WriteCallAsync(caller, 2, TestNode.Echo, [0], ct);
            Assert.Equal((2u, (byte)CallFailure.Refused), Head(await RawLean.ReadAnswerAsync(caller, ct)));
            Assert.Equal((Lean.LeanWire.GoAway, 2u), await RawLean.ReadControlAsync(caller, ct));
        }

        // The held handlers finish at once, each on a pool thread. Each session then answers its call and waits for its
        // caller, who does not hang up: a pool thread that waited there would be back only at the drain's bound.
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(gates.Select(gate => Task.Run(() => gate.SetResult([7]), ct)));
        var back = clock.Elapsed;

        Assert.True(back < LeanServer.DrainTimeout, $"the pool threads that finished the handlers were back after {back.TotalMilliseconds:0} ms");
        Assert.Equal(Sessions, server.Transport.IncomingConnections.Open); // each still waits for its caller
        foreach (var caller in callers)
        {
            Assert.Equal((1u, (byte)CallFailure.None), Head(await RawLean.ReadAnswerAsync(caller, ct)));
            await caller.DisposeAsync();
        }
        await Poll.UntilAsync(() => server.Transport.IncomingConnections.Open == 0, TimeSpan.FromSeconds(5), ct);
    }

    private static (uint Id, byte Status) Head((uint Id, byte Status, byte[] Body) answer) => (answer.Id, answer.Status);
}
