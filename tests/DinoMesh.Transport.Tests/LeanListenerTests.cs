using System.Net;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Lean connections taken at accept, past Kestrel (<c>DirectConnections</c>): the listener reads the ClientHello and a
/// connection offering only the lean ALPN id gets its TLS over the socket itself, and <c>LeanServer</c> reads and writes
/// that TLS stream. Each test checks which path the connection took (<see cref="PeerTransport.DirectLeanConnections"/>,
/// <see cref="PeerTransport.DirectHandshakes"/>), so Kestrel's lean path cannot pass for it.
/// </summary>
public class LeanListenerTests
{
    private const string Seen = SeenProtocol.Id;

    private static TransportOptions Options(ConnectionLimits? limits = null) => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        ConnectTimeout = TimeSpan.FromSeconds(3),
        DefaultDeadline = TimeSpan.FromSeconds(5),
        Limits = limits ?? new ConnectionLimits(),
    };

    private static async Task<TestNode> StartAsync(string name, TransportOptions? options = null)
    {
        var node = new TestNode(name, options ?? Options());
        SeenProtocol.Register(node, 64 * 1024);
        return await node.StartWithEchoAsync();
    }

    [Fact]
    public async Task A_members_lean_connection_is_served_past_Kestrel_with_many_calls_at_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A");
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);

        var first = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
        Assert.True(first.Ok, first.ToString());
        var payloads = Enumerable.Range(0, 100).Select(i => BitConverter.GetBytes(i)).ToArray();
        var answers = await Task.WhenAll(payloads.Select(p => b.Transport.CallAsync(a.Address, a.Id, Seen, p, TimeSpan.FromSeconds(20), ct)));

        for (var i = 0; i < answers.Length; i++)
        {
            Assert.True(answers[i].Ok, answers[i].ToString());
            var (transport, body) = SeenProtocol.Split(answers[i].Value!);
            Assert.Equal(WireHeaders.Lean, transport);
            Assert.Equal(payloads[i], body);
        }
        Assert.Equal(1, a.Transport.DirectLeanConnections);
        Assert.Equal(1, a.Transport.IncomingConnections.Open);
    }

    [Fact]
    public async Task A_server_that_leaves_lean_connections_to_Kestrel_still_serves_the_same_calls()
    {
        // What a node from before this change does (and this one, for a ClientHello its listener cannot read).
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A", Options() with { TakeLeanAtAccept = false });
        await using var b = await StartAsync("B");
        a.Admission.Admit(b.Id);

        var result = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 7 }, TimeSpan.FromSeconds(10), ct);

        Assert.True(result.Ok, result.ToString());
        var (transport, body) = SeenProtocol.Split(result.Value!);
        Assert.Equal(WireHeaders.Lean, transport);
        Assert.Equal(new byte[] { 7 }, body);
        Assert.Equal(0, a.Transport.DirectLeanConnections);
        Assert.Equal(0, a.Transport.DirectHandshakes);
    }

    [Fact]
    public async Task A_strangers_lean_connection_is_refused_past_Kestrel_with_a_refusal_and_a_goaway_that_read_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A");
        await using var stranger = new TestNode("S");

        await using (var tls = await RawLean.DialAsync(stranger.Identity, a.Address, a.Id, ct))
        {
            await RawLean.WriteCallAsync(tls, 1, TestNode.Echo, [42], ct);
            // Refused, with the reason, in an answer to call id 0: what tells the caller this goaway from an idle close.
            var (refusal, status, reason) = await RawLean.ReadAnswerAsync(tls, ct);
            Assert.Equal(LeanWire.PostId, refusal);
            Assert.Equal((byte)CallFailure.Refused, status);
            Assert.Equal("not an admitted member", System.Text.Encoding.UTF8.GetString(reason));
            var (kind, value) = await RawLean.ReadControlAsync(tls, ct);
            Assert.Equal(LeanWire.GoAway, kind);
            Assert.Equal(0u, value); // no call read: the caller may send it over HTTP/2, and learn its refusal there
            Assert.Equal(0, await ServerClose.ReadUntilClosedAsync(tls, TimeSpan.FromSeconds(10), ct));
        }

        Assert.Equal(1, a.Transport.DirectHandshakes);
        Assert.Equal(0, a.Transport.DirectLeanConnections);
        Assert.True(a.Log.Contains("refused a lean connection"), "the server says whom it refused");
        Assert.True(a.Log.Contains("not an admitted member"), "and why");
        await Poll.UntilAsync(() => a.Transport.IncomingConnections is { Open: 0, Strangers: 0, Handshaking: 0 }, TimeSpan.FromSeconds(5), ct);
    }

    [Fact]
    public async Task A_member_connection_that_sends_no_call_is_told_goaway_after_the_first_request_deadline()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A", Options(new ConnectionLimits { FirstRequestTimeout = TimeSpan.FromMilliseconds(500) }));
        await using var b = new TestNode("B");
        a.Admission.Admit(b.Id);

        await using var tls = await RawLean.DialAsync(b.Identity, a.Address, a.Id, ct);
        await Poll.UntilAsync(() => a.Transport.DirectLeanConnections == 1, TimeSpan.FromSeconds(5), ct);
        var (kind, value) = await RawLean.ReadControlAsync(tls, ct);

        Assert.Equal(LeanWire.GoAway, kind);
        Assert.Equal(0u, value);
        await tls.DisposeAsync(); // the caller hangs up after a goaway that leaves nothing waiting
        await Poll.UntilAsync(() => a.Transport.IncomingConnections.Open == 0, TimeSpan.FromSeconds(5), ct);
        Assert.True(a.Log.Contains("no request within"), "the server says why it closed the connection");
    }

    [Fact]
    public async Task Stopping_the_server_says_goaway_after_the_last_call_read_and_closes()
    {
        var ct = TestContext.Current.CancellationToken;
        var a = await StartAsync("A");
        await using var b = new TestNode("B");
        a.Admission.Admit(b.Id);
        await using var tls = await RawLean.DialAsync(b.Identity, a.Address, a.Id, ct);
        await RawLean.WriteCallAsync(tls, 1, TestNode.Echo, "abc"u8.ToArray(), ct);
        var (id, status, body) = await RawLean.ReadAnswerAsync(tls, ct);
        Assert.Equal(1u, id);
        Assert.Equal((byte)CallFailure.None, status);
        Assert.Equal("abc"u8.ToArray(), body);
        Assert.Equal(1, a.Transport.DirectLeanConnections);

        var stopping = a.DisposeAsync().AsTask();
        var (kind, value) = await RawLean.ReadControlAsync(tls, ct);
        Assert.Equal(LeanWire.GoAway, kind);
        Assert.Equal(1u, value);
        await tls.DisposeAsync();
        await stopping.WaitAsync(TimeSpan.FromSeconds(10), ct);
    }
}
