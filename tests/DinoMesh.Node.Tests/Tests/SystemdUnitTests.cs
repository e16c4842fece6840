using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// The systemd unit without a running systemd (none can run here): the template, filled in as install.sh does, passes
/// <c>systemd-analyze verify</c> without a warning; and its ExecStopPost helper clears the dead mount a crashed node
/// leaves, so Restart=on-failure can bring the node back (it then rejoins on its data directory), while a live
/// mount is left alone.
/// </summary>
public sealed class SystemdUnitTests : IDisposable
{
    private readonly TestCluster _cluster;

    public SystemdUnitTests(ITestOutputHelper output) => _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.50", "127.0.0.51"]);

    private static string Template(string name) => Path.Combine(SourceTree.RepoRoot, "scripts", "systemd", name);

    [Fact]
    public void The_filled_in_unit_verifies_without_warnings()
    {
        var analyze = Requirement.Which("systemd-analyze");
        if (analyze is null)
        {
            Requirement.Unavailable("systemd-analyze is missing (package systemd)");
        }
        var prefix = Directory.CreateDirectory(Path.Combine(_cluster.Root, "prefix")).FullName;
        var bin = Directory.CreateDirectory(Path.Combine(prefix, "bin")).FullName;
        var lib = Directory.CreateDirectory(Path.Combine(prefix, "lib", "dinomesh")).FullName;
        var etc = Directory.CreateDirectory(Path.Combine(prefix, "etc", "dinomesh")).FullName;
        File.WriteAllText(Path.Combine(bin, "dino-node"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(bin, "dino-node"), (UnixFileMode)0x1ED);
        File.Copy(Template("unmount-stale"), Path.Combine(lib, "unmount-stale"));
        var unit = File.ReadAllText(Template("dino-node.service.in")).Replace("@BINDIR@", bin, StringComparison.Ordinal)
            .Replace("@LIBDIR@", lib, StringComparison.Ordinal).Replace("@SYSCONFDIR@", etc, StringComparison.Ordinal);
        Assert.DoesNotContain("@", unit.Split('\n').Where(l => !l.StartsWith('#')).Aggregate("", (a, l) => a + l), StringComparison.Ordinal);
        var path = Path.Combine(prefix, "dino-node.service");
        File.WriteAllText(path, unit);

        var r = Tool.TryRun(analyze!, ["verify", "--man=no", path], TimeSpan.FromSeconds(60));
        Assert.True(r.ExitCode == 0 && r.Stderr.Trim().Length == 0, $"systemd-analyze verify complained: {r}");
        Assert.Contains("Type=notify", unit, StringComparison.Ordinal);
        Assert.Contains("Restart=on-failure", unit, StringComparison.Ordinal);
        Assert.Contains($"ExecStart={bin}/dino-node --config {etc}/dino-node.conf", unit, StringComparison.Ordinal);

        // A broken unit does make it complain: the check can fail.
        File.WriteAllText(path, unit.Replace("Type=notify", "Type=notifyy", StringComparison.Ordinal));
        Assert.Contains("notifyy", Tool.TryRun(analyze!, ["verify", "--man=no", path], TimeSpan.FromSeconds(60)).Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void After_a_crash_the_stop_post_helper_clears_the_dead_mount_and_the_restarted_node_rejoins()
    {
        Requirement.RootAndFuse();
        var a = _cluster.Add("a", "127.0.0.50");
        var b = _cluster.Add("b", "127.0.0.51");
        _cluster.Form(a, b);
        var config = Path.Combine(_cluster.Root, "b.conf");
        File.WriteAllLines(config, [$"mount = {b.MountPoint}   # b's", $"data-dir = {b.DataDir}"]);
        var helper = Template("unmount-stale");

        // Alive: the helper leaves a live mount alone.
        Assert.Equal(0, Tool.TryRun("sh", helper, config).ExitCode);
        Assert.True(MountTable.IsFuseMounted(b.MountPoint), "the helper unmounted a live node's volume");

        // Crash: the kernel keeps a dead FUSE mount there, which would refuse the restart.
        b.Daemon!.Kill9();
        Assert.True(MountTable.IsFuseMounted(b.MountPoint), "expected the crashed node's dead mount to stay");
        Assert.Equal(0, Tool.TryRun("sh", helper, config).ExitCode);
        Assert.False(MountTable.IsFuseMounted(b.MountPoint), "the helper did not clear the dead mount");

        // What Restart=on-failure does next: the same command again; the node rejoins on its data directory.
        b.Start();
        _cluster.WaitForViews([a, b], v => TestCluster.AllAlive(v, [a, b]), TimeSpan.FromSeconds(60), "the restarted node is alive on both");
    }

    public void Dispose() => _cluster.Dispose();
}
