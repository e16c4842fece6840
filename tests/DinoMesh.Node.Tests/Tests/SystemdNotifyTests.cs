using System.Net.Sockets;
using System.Text;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// <c>Type=notify</c> without a real systemd: the test binds a Unix datagram socket, passes it as NOTIFY_SOCKET as
/// systemd does, and checks the protocol: READY=1 only once the volume is mounted, STOPPING=1 on SIGTERM, then a clean
/// exit 0 with the mount gone.
/// </summary>
public sealed class SystemdNotifyTests : IDisposable
{
    private readonly TestCluster _cluster;

    public SystemdNotifyTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.39"]);
    }

    [Fact]
    public async Task The_node_notifies_ready_after_mounting_and_stopping_on_sigterm()
    {
        var node = _cluster.Add("notify", "127.0.0.39");
        var path = Path.Combine(_cluster.Root, "notify.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        var received = new List<(string Message, bool Mounted)>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var listener = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            while (!stop.IsCancellationRequested)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, stop.Token);
                var message = Encoding.UTF8.GetString(buffer, 0, n);
                lock (received)
                {
                    // Whether the volume was mounted at the moment the message arrived.
                    received.Add((message, MountTable.IsFuseMounted(node.MountPoint)));
                }
            }
        }, stop.Token);

        var daemon = node.Launch(env: new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = path });
        var ready = Poll.Until(() => daemon.HasExited || Messages(received).Any(m => m.Message.Contains("READY=1", StringComparison.Ordinal)), TimeSpan.FromSeconds(60));
        Check.True(ready is not null && !daemon.HasExited, () => $"no READY=1 within 60 s; got [{string.Join(", ", Messages(received).Select(m => m.Message))}]\n{node.Diagnostics()}");
        var readyMessage = Messages(received).First(m => m.Message.Contains("READY=1", StringComparison.Ordinal));
        Assert.True(readyMessage.Mounted, "READY=1 arrived before the volume was mounted");
        Assert.True(File.Exists(Path.Combine(node.DataDir, "control.sock")), "READY=1 arrived before the control socket was up");

        Assert.Equal(0, node.Terminate(TimeSpan.FromSeconds(30)));
        Assert.False(MountTable.IsFuseMounted(node.MountPoint), "the mount is still there after a clean stop");
        Assert.Contains(Messages(received), m => m.Message.Contains("STOPPING=1", StringComparison.Ordinal));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listener);
    }

    private static List<(string Message, bool Mounted)> Messages(List<(string Message, bool Mounted)> received)
    {
        lock (received)
        {
            return [.. received];
        }
    }

    public void Dispose() => _cluster.Dispose();
}
