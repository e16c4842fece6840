namespace DinoMesh.Transport.Tests;

public class EchoTests
{
    [Fact]
    public async Task Admitted_peer_calls_echo_over_the_lean_path()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        var result = await b.Transport.CallAsync(a.Address, a.Id, TestNode.Echo, "hello"u8.ToArray(), TimeSpan.FromSeconds(5), ct);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal("hello"u8.ToArray(), result.Value);
        Assert.Equal(a.Id, result.Peer);
        var link = Assert.Single(b.Transport.Links);
        Assert.Equal("lean/tls1.3", link.Transport);
        Assert.Equal(a.Id, link.Peer);
        Assert.Equal(a.Address, link.Address);
        Assert.NotNull(link.LastRtt);
        TestContext.Current.TestOutputHelper?.WriteLine($"link {link.Peer} {link.Address} {link.Transport} rtt {link.LastRtt!.Value.TotalMilliseconds:F2} ms");
    }

    [Fact]
    public async Task Ping_measures_a_round_trip_and_empty_messages_are_fine()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);
        b.Admission.Admit(a.Id);

        var ping = await b.Transport.PingAsync(a.Address, null, TimeSpan.FromSeconds(5), ct);
        var empty = await b.Transport.CallAsync(a.Address, null, TestNode.Echo, ReadOnlyMemory<byte>.Empty, TimeSpan.FromSeconds(5), ct);

        Assert.True(ping.Ok, ping.ToString());
        Assert.Equal(a.Id, ping.Peer);
        Assert.True(ping.Value > TimeSpan.Zero);
        Assert.True(empty.Ok, empty.ToString());
        Assert.Empty(empty.Value!);
    }

    [Fact]
    public async Task Calling_a_protocol_the_peer_does_not_serve_is_UnknownProtocol()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a = await new TestNode("A").StartWithEchoAsync();
        await using var b = await new TestNode("B").StartWithEchoAsync();
        a.Admission.Admit(b.Id);

        var result = await b.Transport.CallAsync(a.Address, a.Id, "/test/nothing/9", new byte[1], TimeSpan.FromSeconds(5), ct);

        Assert.Equal(CallFailure.UnknownProtocol, result.Failure);
    }

    [Fact]
    public async Task Nobody_listening_is_Unreachable()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var b = await new TestNode("B").StartWithEchoAsync();
        var port = FreePort();

        var result = await b.Transport.CallAsync($"127.0.0.1:{port}", null, TestNode.Echo, new byte[1], TimeSpan.FromSeconds(5), ct);

        Assert.Equal(CallFailure.Unreachable, result.Failure);
    }

    [Fact]
    public async Task A_call_without_a_finite_deadline_is_rejected()
    {
        await using var b = await new TestNode("B").StartWithEchoAsync();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            b.Transport.CallAsync("127.0.0.1:1", null, TestNode.Echo, new byte[1], Timeout.InfiniteTimeSpan, TestContext.Current.CancellationToken));
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
