using DinoMesh.Node.Tests.Cluster;

namespace DinoMesh.Node.Tests.Tests;

// Privileges a change of a file drops, across nodes (FUSE_HANDLE_KILLPRIV_V2: the volume drops them, not the kernel).
public sealed partial class SharedTreeTests
{
    /// <summary>A version-2 capability set (CAP_NET_RAW permitted and effective), as setfattr takes it.</summary>
    private const string NetRawCapability = "0sAQAAAgAgAAAAAAAAAAAAAAAAAAA=";

    /// <summary>
    /// getxattr(2) alone: getfattr stats the file first, and a stat that refreshes the attributes also clears the
    /// kernel's S_NOSEC mark, after which the kernel would ask (and drop the capability) itself.
    /// </summary>
    private static bool HasCapability(string path) =>
        Tool.TryRun("/usr/bin/python3", ["-c", "import os, sys; os.getxattr(sys.argv[1], 'security.capability')", path], TimeSpan.FromSeconds(10)).ExitCode == 0;

    [Fact]
    [SharedCluster]
    public void A_write_drops_a_capability_another_node_set_after_this_nodes_kernel_stopped_asking()
    {
        // After the first write to an inode with nothing to drop, the writer's kernel marks it S_NOSEC and asks for
        // security.capability no more while the file stays open. A capability set meanwhile on another node reaches
        // this node's volume, not that mark: only the volume can drop it at the next write, as a write on one local
        // disk would.
        var (a, b, _) = SharedThree() switch { var n => (n[0], n[1], n[2]) };
        var block = new byte[4096];
        using var file = File.OpenHandle(On(a, "capped"), FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite);
        RandomAccess.Write(file, block, 0);
        SeenOn([b], "create + write", n => File.Exists(On(n, "capped")));

        Assert.Equal(0, Tool.TryRun("setfattr", ["-n", "security.capability", "-v", NetRawCapability, On(b, "capped")], TimeSpan.FromSeconds(20)).ExitCode);
        SeenOn([a], "setcap", n => HasCapability(On(n, "capped")));

        RandomAccess.Write(file, block, block.Length);

        Assert.False(HasCapability(On(a, "capped")), "security.capability survived a write on the node whose kernel no longer asked");
        SeenOn([b], "capability dropped", n => !HasCapability(On(n, "capped")));
    }
}
