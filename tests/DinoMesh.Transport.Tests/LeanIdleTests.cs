using System.Net;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Idle lean connections are closed by the server (one clock checks them all): with a goaway, so the caller's next
/// call dials a new connection and succeeds.
/// </summary>
public class LeanIdleTests
{
    private const string Seen = SeenProtocol.Id;
    private const string Port = "/test/port/1";

    private static async Task<TestNode> StartAsync(string name, TimeSpan leanIdle)
    {
        var node = new TestNode(name, new TransportOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            DefaultDeadline = TimeSpan.FromSeconds(5),
            Limits = new ConnectionLimits { LeanIdleTimeout = leanIdle },
        });
        SeenProtocol.Register(node, 64 * 1024);
        // Answers the caller's source port: calls from one connection share it.
        node.Transport.RegisterUnary(Port, 16, static (peer, _, _) => ValueTask.FromResult(BitConverter.GetBytes(peer.RemoteEndPoint!.Port)));
        return await node.StartWithEchoAsync();
    }

    [Fact]
    public async Task Idle_connections_of_every_caller_are_closed_and_the_next_call_dials_again()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A", TimeSpan.FromSeconds(1));
        await using var b = await StartAsync("B", TimeSpan.FromSeconds(60));
        await using var c = await StartAsync("C", TimeSpan.FromSeconds(60));
        a.Admission.Admit(b.Id);
        a.Admission.Admit(c.Id);

        foreach (var caller in new[] { b, c })
        {
            var first = await caller.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
            Assert.True(first.Ok, first.ToString());
            Assert.Equal(WireHeaders.Lean, SeenProtocol.Split(first.Value!).Transport);
        }
        Assert.Equal(2, a.Transport.IncomingConnections.Open);

        await Poll.UntilAsync(() => a.Transport.IncomingConnections.Open == 0, TimeSpan.FromSeconds(10), ct);

        var again = await b.Transport.CallAsync(a.Address, a.Id, Seen, new byte[] { 2 }, TimeSpan.FromSeconds(10), ct);
        Assert.True(again.Ok, again.ToString());
        Assert.Equal(WireHeaders.Lean, SeenProtocol.Split(again.Value!).Transport);
        Assert.Equal(1, a.Transport.IncomingConnections.Open);
    }

    [Fact]
    public async Task A_connection_in_use_is_not_closed_as_idle()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await StartAsync("A", TimeSpan.FromSeconds(1));
        await using var b = await StartAsync("B", TimeSpan.FromSeconds(60));
        a.Admission.Admit(b.Id);

        // A call every 200 ms for 3 s: three idle timeouts long, never idle for one. All from one connection.
        var ports = new HashSet<int>();
        for (var i = 0; i < 15; i++)
        {
            var result = await b.Transport.CallAsync(a.Address, a.Id, Port, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
            Assert.True(result.Ok, result.ToString());
            ports.Add(BitConverter.ToInt32(result.Value!));
            await Task.Delay(200, ct);
        }
        Assert.Single(ports);
        Assert.Equal(1, a.Transport.IncomingConnections.Open);
    }
}
