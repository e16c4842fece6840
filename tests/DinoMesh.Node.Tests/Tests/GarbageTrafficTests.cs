using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>Random bytes on the peer port do not hurt the node: afterwards it still serves its CLI and admits a newcomer.</summary>
public sealed class GarbageTrafficTests : IDisposable
{
    private const int Connections = 100;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(10);
    private readonly TestCluster _cluster;

    public GarbageTrafficTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output);
    }

    [Fact]
    public async Task Hundred_connections_of_random_bytes_leave_the_node_serving_and_admitting()
    {
        var a = _cluster.Add("a", "127.0.0.11");
        var b = _cluster.Add("b", "127.0.0.12");
        var token = _cluster.Form(a, b);
        _cluster.WaitForViews([a, b], v => TestCluster.AllAlive(v, [a, b]), TimeSpan.FromSeconds(20), "a and b list each other alive");

        var seed = int.TryParse(Environment.GetEnvironmentVariable("DINOMESH_FUZZ_SEED"), out var s) ? s : Random.Shared.Next();
        _cluster.Log($"fuzz seed {seed} (replay with DINOMESH_FUZZ_SEED={seed})");
        var random = new Random(seed);
        var clock = Stopwatch.StartNew();
        var sent = 0;
        var answered = 0;
        for (var i = 0; i < Connections && clock.Elapsed < Budget; i++)
        {
            if (await SendGarbageAsync(a.Host, a.Port, Garbage(random, i)))
            {
                answered++;
            }
            sent++;
        }
        _cluster.Log($"{sent} connections of garbage in {clock.Elapsed.TotalSeconds:F2} s; {answered} got bytes back (TLS alerts)");
        Assert.Equal(Connections, sent);
        Assert.False(a.Daemon!.HasExited, "the node died under garbage");

        _cluster.WaitForViews([a, b], v => TestCluster.AllAlive(v, [a, b]), TimeSpan.FromSeconds(10), "after the garbage a and b still list each other alive");

        // The credential from a file this time, so --token-file is exercised too.
        var tokenFile = Path.Combine(_cluster.Root, "token");
        await File.WriteAllTextAsync(tokenFile, token + "\n", TestContext.Current.CancellationToken);
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);  // dino-node refuses a token file others can read
        var c = _cluster.Add("c", "127.0.0.13");
        c.Launch(join: a.Endpoint, extra: ["--token-file", tokenFile]);
        c.WaitUntilUp();
        var all = new[] { a, b, c };
        var took = _cluster.WaitForViews(all, v => TestCluster.AllAlive(v, all), TimeSpan.FromSeconds(20), "the newcomer and the members list a, b, c alive");
        _cluster.Log($"newcomer admitted after the garbage; all views all-alive {took.TotalSeconds:F2} s after it was up");
    }

    /// <summary>
    /// Pure noise, noise behind a TLS handshake record header (reaches the TLS parser), or the cleartext HTTP/2
    /// preface followed by noise (a plaintext HTTP/2 client on a TLS-only port).
    /// </summary>
    private static byte[] Garbage(Random random, int i)
    {
        var noise = new byte[random.Next(1, 2048)];
        random.NextBytes(noise);
        return (i % 3) switch
        {
            0 => noise,
            1 => [0x16, 0x03, 0x01, (byte)(noise.Length >> 8), (byte)noise.Length, .. noise],
            _ => [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, .. noise],
        };
    }

    /// <summary>Connects, writes, reads briefly, closes; true when the node wrote anything back.</summary>
    private static async Task<bool> SendGarbageAsync(string host, int port, byte[] bytes)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(host), port), deadline.Token);
            await socket.SendAsync(bytes, SocketFlags.None, deadline.Token);
            var buffer = new byte[256];
            using var read = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            return await socket.ReceiveAsync(buffer, SocketFlags.None, read.Token) > 0;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // A reset or a silent peer is a fine answer to garbage.
            return false;
        }
    }

    public void Dispose() => _cluster.Dispose();
}
