using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// The README's one-machine recipe: several nodes on 127.0.0.x, all on the default port, each started with only
/// <c>--advertise</c>. Without <c>--listen</c> a node listens on its advertise address, so the second one does not
/// collide with the first (which used to bind 0.0.0.0:7946).
/// </summary>
public sealed class OneMachineRecipeTests : IDisposable
{
    private static readonly string[] Hosts = ["127.0.0.41", "127.0.0.42", "127.0.0.43"];
    private readonly TestCluster _cluster;

    public OneMachineRecipeTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: Hosts);
    }

    [Fact]
    public void Nodes_on_127_0_0_x_with_only_advertise_share_one_port_and_form_a_cluster()
    {
        var nodes = Hosts.Select((h, i) => _cluster.Add($"n{i + 1}", h)).ToArray();
        string? token = null;
        foreach (var node in nodes)
        {
            var join = node == nodes[0] ? null : nodes[0].Endpoint;
            // No --listen: what the recipe says, --advertise alone (the Launch helper's --listen is not used here).
            var args = new List<string> { "--mount", node.MountPoint, "--data-dir", node.DataDir, "--advertise", node.Endpoint, "--membership-profile", "local" };
            if (join is not null)
            {
                args.AddRange(["--join", join]);
            }
            var env = new Dictionary<string, string?> { ["DINOMESH_TOKEN"] = token };
            var daemon = DaemonProcess.Start(SourceTree.DaemonCommand.File, [.. SourceTree.DaemonCommand.Prefix, .. args], node.LogPath, env);
            _started.Add((daemon, node));
            var up = Poll.Until(() => daemon.HasExited || MountTable.IsFuseMounted(node.MountPoint), TimeSpan.FromSeconds(60));
            Assert.True(up is not null && !daemon.HasExited, $"{node.Name} did not come up:\n{daemon.Stderr}");
            token ??= daemon.WaitForLine(l => l.Contains("DINOMESH_TOKEN=", StringComparison.Ordinal), TimeSpan.FromSeconds(10))!
                .Text.Trim().Split(' ')[0]["DINOMESH_TOKEN=".Length..];
        }
        foreach (var node in nodes)
        {
            Assert.Contains(node.Endpoint, Tool.Run("ss", "-Htln", $"src {node.Host}").Stdout, StringComparison.Ordinal);
        }
        var observers = nodes.Select(n => new Func<IReadOnlyList<PeerEntry>>(n.Peers)).ToList();
        var all = Poll.Until(() => observers.All(o => o() is var v && v.Count == 3 && v.All(p => p.State == "alive")), TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        Assert.True(all is not null, "the three nodes did not all list each other alive");
    }

    private readonly List<(DaemonProcess Daemon, NodeProcess Node)> _started = [];

    public void Dispose()
    {
        // Teardown, nothing checked: SIGKILL to all at once (a graceful stop of each in turn cost seconds), then reap and unmount.
        foreach (var (daemon, _) in _started.Where(s => !s.Daemon.HasExited))
        {
            Signal.Send(daemon.Pid, Signal.SIGKILL);
        }
        foreach (var (daemon, node) in _started)
        {
            daemon.Kill9();
            MountTable.LazyUnmount(node.MountPoint);
            daemon.Dispose();
        }
        _cluster.Dispose();
    }
}
