using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>Three dino-node processes on 127.0.0.11/12/13 form one cluster through --join and all see each other.</summary>
public sealed class ClusterFormationTests : IDisposable
{
    private readonly TestCluster _cluster;

    public ClusterFormationTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output);
    }

    [Fact]
    public void Three_nodes_joined_through_one_list_each_other_alive_over_mutual_tls_and_answer_status_and_token()
    {
        var a = _cluster.Add("a", "127.0.0.11");
        var b = _cluster.Add("b", "127.0.0.12");
        var c = _cluster.Add("c", "127.0.0.13");
        var token = _cluster.Form(a, b, c);
        var all = new[] { a, b, c };

        var took = _cluster.WaitForViews(all, v => TestCluster.AllAlive(v, all), TimeSpan.FromSeconds(20), "every node lists a, b, c alive");
        _cluster.Log($"all three views all-alive {took.TotalSeconds:F2} s after the last node was up");

        foreach (var observer in all)
        {
            var view = observer.Peers();
            Assert.Equal(3, view.Count);
            var self = Assert.Single(view, p => p.Self);
            Assert.Equal(observer.PeerId, self.Id);
            Assert.Equal("self", self.Transport);
            Assert.Equal(observer.Endpoint, self.Address);
            foreach (var other in all.Where(o => o != observer))
            {
                var row = Assert.Single(view, p => p.Id == other.PeerId);
                Assert.Equal("alive", row.State);
                // Small calls take the lean path; a call refused for a moment after the join (the peer had not yet
                // learnt of it) goes over HTTP/2, so the last successful call may have taken either. Both are mutual TLS.
                Assert.True(row.Transport is "lean/tls1.3" or "h2/tls1.3", $"transport {row.Transport}");
                Assert.Equal(other.Endpoint, row.Address);
                Assert.False(row.Self);
            }
            Assert.All(view, p => Assert.Matches("^[0-9a-f]{64}$", p.Id));
        }

        var clusterIds = new HashSet<string?>();
        foreach (var n in all)
        {
            var status = n.Status();
            Assert.Equal(n.PeerId, status.GetProperty("peerId").GetString());
            Assert.Equal(n.Endpoint, status.GetProperty("listen").GetString());
            Assert.Equal(n.MountPoint, status.GetProperty("mountPoint").GetString());
            Assert.Equal(3, status.GetProperty("peersTotal").GetInt32());
            Assert.Equal(3, status.GetProperty("peersAlive").GetInt32());
            clusterIds.Add(status.GetProperty("clusterId").GetString());

            // The founder's credential, printed by every member (the joiners learned it by joining).
            var printed = n.Cli("token");
            Assert.True(printed.ExitCode == 0, printed.ToString());
            Assert.Equal(token, printed.Stdout.Trim());
        }
        var clusterId = Assert.Single(clusterIds);
        Assert.StartsWith($"dmt1.{clusterId}.", token, StringComparison.Ordinal);
    }

    [Fact]
    public void Cli_without_a_running_node_exits_1_with_one_line()
    {
        var ghost = _cluster.Add("ghost", "127.0.0.11");
        Directory.CreateDirectory(ghost.DataDir);
        foreach (var command in new[] { "peers", "status", "token", "leave" })
        {
            var r = ghost.Cli(command);
            Assert.True(r.ExitCode == 1, r.ToString());
            var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length == 1, $"expected one stderr line:\n{r}");
            Assert.Contains("no dino-node is running", lines[0], StringComparison.Ordinal);
        }
    }

    public void Dispose() => _cluster.Dispose();
}
