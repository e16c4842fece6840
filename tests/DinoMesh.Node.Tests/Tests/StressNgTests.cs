using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.RandomOps;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// stress-ng's filesystem stressors, with <c>--verify</c>, through the mounts of a 3-node cluster (<c>--replicas 2</c>):
/// each must exit 0 as it does on a native directory, and afterwards the three nodes must reach one state hash and show
/// one tree. A short CI cut of the by-hand runs in docs/benchmarks.md ("Bug hunt through real mounts", where
/// <c>--seek</c> on a <c>--writeback-cache</c> mount found the defect <see cref="WritebackSeekTests"/> keeps fixed).
/// </summary>
public sealed class StressNgTests(ITestOutputHelper output)
{
    private static readonly string[][] OneAtATime =
    [
        ["--dir", "1", "--dir-ops", "300", "--dir-dirs", "128"],
        ["--rename", "1", "--rename-ops", "500"],
        ["--hdd", "1", "--hdd-ops", "300", "--hdd-bytes", "4m", "--hdd-opts", "wr-rnd,rd-rnd"],
        ["--fallocate", "1", "--fallocate-ops", "10", "--fallocate-bytes", "4m"],
        ["--seek", "1", "--seek-ops", "300", "--seek-size", "4m"],
        ["--sync-file", "1", "--sync-file-ops", "10", "--sync-file-bytes", "2m"],
        ["--sendfile", "1", "--sendfile-ops", "200", "--sendfile-size", "256k"],
        ["--utime", "1", "--utime-ops", "300"],
    ];

    [Fact]
    public void Filesystem_stressors_pass_with_verify_and_the_nodes_converge()
    {
        Requirement.RootAndFuse();
        if (Requirement.Which("stress-ng") is null) Requirement.Unavailable("stress-ng is not installed (scripts/install-deps.sh installs it)");
        using var cluster = new TestCluster(output, hostsToCheck: ["127.0.0.221", "127.0.0.222", "127.0.0.223"]);
        NodeProcess[] nodes = [cluster.Add("a", "127.0.0.221"), cluster.Add("b", "127.0.0.222"), cluster.Add("c", "127.0.0.223")];
        cluster.FormWith(["--replicas", "2"], nodes);

        foreach (var stressor in OneAtATime) Stress(cluster, nodes[0], stressor[0].TrimStart('-'), stressor);
        // The same stressor on two nodes at once, in directories of their own.
        Concurrently.Map<NodeProcess, int>(nodes[..2], n => { Stress(cluster, n, $"rename-{n.Name}", ["--rename", "1", "--rename-ops", "300"]); return 0; });

        AssertConverged(cluster, nodes);
    }

    private static void Stress(TestCluster cluster, NodeProcess node, string name, string[] stressor)
    {
        var directory = Path.Combine(node.MountPoint, name);
        Directory.CreateDirectory(directory);
        var result = Tool.TryRun("stress-ng", ["--temp-path", directory, "--verify", "--timeout", "20s", .. stressor], TimeSpan.FromSeconds(60));
        cluster.Log($"stress-ng {string.Join(' ', stressor)} on {node.Name}: exit {result.ExitCode}");
        Assert.True(result.ExitCode == 0, $"stress-ng {string.Join(' ', stressor)} on {node.Name}: {result}");
        Assert.Empty(Directory.EnumerateFileSystemEntries(directory));
    }

    private static void AssertConverged(TestCluster cluster, IReadOnlyList<NodeProcess> nodes)
    {
        string[] hashes = [];
        var took = Poll.Until(() =>
        {
            hashes = [.. Concurrently.Map(nodes, n => n.Cli("statehash").Stdout.Trim())];
            return hashes.Distinct().Count() == 1 && hashes[0].Length > 0;
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));
        Assert.True(took is not null, $"state hashes differ: {string.Join(" | ", hashes)}");
        var first = TreeSnapshot.Take(nodes[0].MountPoint);
        foreach (var node in nodes.Skip(1)) Assert.Empty(TreeSnapshot.Differences(first, TreeSnapshot.Take(node.MountPoint)));
        cluster.Log($"state hash equal on {nodes.Count} nodes ({hashes[0]}), {first.Count} entries equal");
    }
}
