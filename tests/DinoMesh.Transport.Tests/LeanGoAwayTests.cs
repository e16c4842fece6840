using System.Net;
using DinoMesh.Transport.Client;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// What a caller makes of a goaway that read none of its calls: a refusal (this node is not admitted there, so its calls
/// go over HTTP/2 for a moment and learn why) only when the server said so, or, from a server that predates saying so,
/// when one of its calls was on its way; a connection closed as idle before its first call is not a refusal.
/// </summary>
public class LeanGoAwayTests
{
    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(10);

    private static async Task<TestNode> StartAsync(string name, TimeSpan leanIdle)
    {
        var node = new TestNode(name, new TransportOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            DefaultDeadline = TimeSpan.FromSeconds(5),
            Limits = new ConnectionLimits { LeanIdleTimeout = leanIdle },
        });
        return await node.StartWithEchoAsync();
    }

    [Fact]
    public async Task A_connection_closed_as_idle_before_its_first_call_is_not_taken_for_a_refusal()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A", TimeSpan.FromSeconds(1));
        await using var b = await StartAsync("B", TimeSpan.FromSeconds(60));
        a.Admission.Admit(b.Id);

        // Dialled, and then no call for longer than the server's idle timeout (as when the call it was dialled for was
        // given up before it was written): the server says goaway, having read nothing.
        using var connection = new LeanConnection(await RawLean.DialAsync(b.Identity, a.Address, a.Id, ct));
        await Poll.UntilAsync(() => !connection.Usable(PingTimeout), TimeSpan.FromSeconds(10), ct);

        Assert.Contains("goaway", connection.EndReason);
        Assert.False(connection.RefusedAtOnce);
    }

    [Fact]
    public async Task A_stranger_is_told_it_is_refused_even_before_it_sends_a_call()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A", TimeSpan.FromSeconds(60));
        await using var stranger = await StartAsync("S", TimeSpan.FromSeconds(60));

        // The refusal comes right after the handshake, and may overtake the caller's first call: it says so itself.
        using var connection = new LeanConnection(await RawLean.DialAsync(stranger.Identity, a.Address, a.Id, ct));
        await Poll.UntilAsync(() => !connection.Usable(PingTimeout), TimeSpan.FromSeconds(10), ct);

        Assert.True(connection.RefusedAtOnce);
    }

    [Fact]
    public async Task A_bare_goaway_that_read_none_of_a_call_on_its_way_is_a_refusal_from_a_server_that_predates_saying_so()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var caller = await StartAsync("B", TimeSpan.FromSeconds(60));
        // What a server of the previous version tells a caller it does not admit: a goaway that read nothing, no reason.
        await using var old = FakeLeanServer.Start([LeanWire.Alpn], async (tls, token) =>
        {
            await FakeLeanServer.ReadCallAsync(tls, token);
            var goAway = new System.Buffers.ArrayBufferWriter<byte>();
            LeanWire.WriteControl(goAway, LeanWire.GoAway, 0);
            await tls.WriteAsync(goAway.WrittenMemory, token);
            // Until the caller hangs up, as the real server drains.
            await tls.ReadAtLeastAsync(new byte[64], 64, throwOnEndOfStream: false, token);
        });

        using var connection = new LeanConnection(await RawLean.DialAsync(caller.Identity, old.Address, old.Id, ct));
        var reply = await connection.CallAsync(LeanWire.ProtocolIdBytes(TestNode.Echo), new byte[] { 1 }, TimeSpan.FromSeconds(5), 1024, ct);

        Assert.Equal(LeanOutcome.NotSent, reply.Outcome);
        Assert.True(connection.RefusedAtOnce);
    }
}
