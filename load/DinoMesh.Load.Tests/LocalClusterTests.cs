using DinoMesh.Load.Cluster;

namespace DinoMesh.Load.Tests;

[Collection(ProcessCollection.Name)]
public sealed class LocalClusterTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dino-load-cluster-test-");

    [Fact]
    public async Task Three_nodes_form_a_cluster_and_disposing_leaves_no_mount_no_process_and_no_directory()
    {
        ClusterEnvironment.Require();
        var settings = new ClusterSettings(3, _temp.FullName, Path.Combine(_temp.FullName, "logs"), ClusterEnvironment.DinoDll, [],
            TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(15));
        IReadOnlyList<int> pids;
        IReadOnlyList<string> ids;
        string root;
        await using (var cluster = new LocalCluster(settings, _ => { }))
        {
            root = cluster.Root;
            await cluster.StartAsync(TestContext.Current.CancellationToken);

            Assert.Equal(3, cluster.Nodes.Count);
            Assert.Equal(3, cluster.Nodes.Select(n => n.Address).Distinct().Count());
            Assert.All(cluster.Nodes, n => Assert.Contains(n.Root, ClusterEnvironment.MountsUnder(root)));
            pids = cluster.ProcessIds;
            Assert.Equal(3, pids.Count);
            ids = cluster.Nodes.Select(n => cluster.PeerIdOf(n)!).ToList();
            foreach (var node in cluster.Nodes)
            {
                var view = await cluster.PeersAsync(node, TestContext.Current.CancellationToken);
                Assert.Equal(ids.Order(), view.Select(p => p.Id).Order());
                Assert.All(view, p => Assert.True(p.IsAlive, p.ToString()));
            }
            // The credential was handed over in a file that is gone once everyone joined.
            Assert.False(File.Exists(Path.Combine(root, "join-token")));
        }

        Assert.Empty(await ClusterEnvironment.LeftoversAfterAsync(_temp.FullName, TimeSpan.FromSeconds(20)));
        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} still exists"));
        Assert.False(Directory.Exists(root));
        Assert.True(File.Exists(Path.Combine(_temp.FullName, "logs", "node1.log")));
    }

    public void Dispose()
    {
        foreach (var mount in ClusterEnvironment.MountsUnder(_temp.FullName)) Platform.Unmount.RunAsync(mount).GetAwaiter().GetResult();
        _temp.Delete(recursive: true);
    }
}
