using System.Net;
using DinoMesh.Transport.Client;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Nodes that share a machine on loopback addresses of their own dial from those addresses, over every path (lean,
/// HTTP/2, bulk), so a peer's per-address connection caps count each node apart; elsewhere the kernel chooses.
/// </summary>
public class DialSourceTests
{
    private const string Where = "/test/where/1";

    /// <summary>A node on <paramref name="listen"/> whose protocol answers "transport|caller's address".</summary>
    private static async Task<TestNode> StartAsync(string name, IPAddress listen, bool callLean = true)
    {
        var node = new TestNode(name, new TransportOptions
        {
            Listen = new IPEndPoint(listen, 0),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            DefaultDeadline = TimeSpan.FromSeconds(5),
            CallLean = callLean,
        });
        node.Transport.RegisterUnary(Where, 1024, static (peer, _, _) =>
            ValueTask.FromResult(System.Text.Encoding.UTF8.GetBytes($"{peer.Transport}|{peer.RemoteEndPoint?.Address}")));
        return await node.StartWithEchoAsync();
    }

    private static async Task<(string Transport, string Address)> AskAsync(TestNode from, TestNode to, bool bulk = false)
    {
        var ct = TestContext.Current.CancellationToken;
        var result = bulk
            ? await from.Transport.CallBulkAsync(to.Address, to.Id, Where, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct)
            : await from.Transport.CallAsync(to.Address, to.Id, Where, new byte[] { 1 }, TimeSpan.FromSeconds(10), ct);
        Assert.True(result.Ok, result.ToString());
        var parts = System.Text.Encoding.UTF8.GetString(result.Value!).Split('|');
        return (parts[0], parts[1]);
    }

    [Fact]
    public async Task A_node_on_its_own_loopback_address_dials_from_it_over_every_path()
    {
        var serverAddress = IPAddress.Parse("127.0.171.1");
        var callerAddress = IPAddress.Parse("127.0.171.2");
        await using var server = await StartAsync("server", serverAddress);
        await using var lean = await StartAsync("lean", callerAddress);
        await using var http = await StartAsync("http", IPAddress.Parse("127.0.171.3"), callLean: false);
        foreach (var caller in new[] { lean, http }) server.Admission.Admit(caller.Id);

        var (transport, address) = await AskAsync(lean, server);
        Assert.Equal(WireHeaders.Lean, transport);
        Assert.Equal(callerAddress.ToString(), address);

        (transport, address) = await AskAsync(lean, server, bulk: true);
        Assert.StartsWith("bulk", transport);
        Assert.Equal(callerAddress.ToString(), address);

        (transport, address) = await AskAsync(http, server);
        Assert.StartsWith("h2", transport);
        Assert.Equal("127.0.171.3", address);
    }

    [Fact]
    public void Only_a_specific_loopback_listen_address_to_a_loopback_destination_picks_the_source()
    {
        var own = IPAddress.Parse("127.0.33.5");
        Assert.Equal(own, DialSource.For(own, "127.0.33.1"));
        Assert.Null(DialSource.For(IPAddress.Any, "127.0.33.1"));
        Assert.Null(DialSource.For(IPAddress.IPv6Any, "127.0.33.1"));
        Assert.Null(DialSource.For(own, "10.1.2.3"));
        Assert.Null(DialSource.For(own, "localhost"));
        Assert.Null(DialSource.For(own, "::1"));
        Assert.Null(DialSource.For(IPAddress.Parse("10.1.2.3"), "127.0.33.1"));
        Assert.Equal(IPAddress.IPv6Loopback, DialSource.For(IPAddress.IPv6Loopback, "::1"));
    }
}
