using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// <c>scripts/install.sh</c> into a scratch PREFIX: <c>$PREFIX/bin/dino-node</c> runs, the installed unit verifies, the
/// installed node mounts from the installed config file, the join line it prints works as printed with the installed
/// command on the PATH, the installed mount(8) helper (<c>mount.fuse.dinomesh</c>, and <c>dinomesh</c> for fuse3's
/// mount.fuse) mounts a volume with the installed node and no PATH to it; <c>scripts/uninstall.sh</c> removes the
/// program, the unit and the helper and keeps the config.
/// (A Release publish: this takes a few minutes on a loaded 2-core machine.)
/// </summary>
public sealed class InstallTests : IDisposable
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(15);
    private readonly TestCluster _cluster;
    private readonly List<DaemonProcess> _daemons = [];
    // The node the mount helper started in a session of its own (its pid, from the data directory's lock file).
    private (int Pid, string MountPoint)? _helperNode;

    public InstallTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.52", "127.0.0.53", "127.0.0.54"]);
    }

    [Fact]
    public void Install_gives_a_working_dino_node_command_and_uninstall_takes_it_away()
    {
        var prefix = Path.Combine(_cluster.Root, "prefix");
        var env = new Dictionary<string, string> { ["PREFIX"] = prefix };
        var install = Tool.TryRun("bash", [Path.Combine(SourceTree.RepoRoot, "scripts", "install.sh")], PublishTimeout, env: env);
        Assert.True(install.ExitCode == 0, install.ToString());
        var bin = Path.Combine(prefix, "bin");
        var command = Path.Combine(bin, "dino-node");
        var unit = Path.Combine(prefix, "lib", "systemd", "system", "dino-node.service");
        var config = Path.Combine(prefix, "etc", "dinomesh", "dino-node.conf");
        Assert.True(File.Exists(command) && File.Exists(unit) && File.Exists(config), install.ToString());
        // Outside /usr and /usr/local the helper goes to $PREFIX/sbin (HELPERDIR), as does its fuse3 name, dinomesh.
        var helper = Path.Combine(prefix, "sbin", "mount.fuse.dinomesh");
        var fuse3Name = Path.Combine(prefix, "sbin", "dinomesh");
        foreach (var h in new[] { helper, fuse3Name })
        {
            Assert.True(File.Exists(h), $"install did not install {h}:\n{install}");
            Assert.True((File.GetUnixFileMode(h) & UnixFileMode.UserExecute) != 0, $"{h} is not executable");
        }
        Assert.Equal(0, Tool.TryRun(command, "--version").ExitCode);
        if (Requirement.Which("systemd-analyze") is { } analyze)
        {
            var verify = Tool.TryRun(analyze, ["verify", "--man=no", unit], TimeSpan.FromSeconds(60));
            Assert.True(verify.ExitCode == 0 && verify.Stderr.Trim().Length == 0, verify.ToString());
        }

        // The installed node, from the installed config file with this machine's settings filled in.
        var a = _cluster.Add("a", "127.0.0.52");
        File.WriteAllText(config, File.ReadAllText(config)
            .Replace("mount = /mnt/dino", $"mount = {a.MountPoint}", StringComparison.Ordinal)
            .Replace("data-dir = /var/lib/dinomesh", $"data-dir = {a.DataDir}", StringComparison.Ordinal)
            + $"listen = {a.Endpoint}\nmembership-profile = local\n");
        var path = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}";
        var founder = Launch(a, command, ["--config", config], path);
        var line = founder.WaitForLine(l => l.TrimStart().StartsWith("DINOMESH_TOKEN=", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Assert.True(line is not null, $"the installed node printed no join line:\n{founder.Stdout}\n{founder.Stderr}");

        // The printed line, run as printed by a shell that finds the installed command on its PATH (the second node on
        // this one machine gets its own mount point, data directory and address).
        var b = _cluster.Add("b", "127.0.0.53");
        var printed = line!.Text.Trim();
        var pasted = printed[..printed.LastIndexOf(" --mount ", StringComparison.Ordinal)]
            + $" --mount {b.MountPoint} --data-dir {b.DataDir} --listen {b.Endpoint} --membership-profile local";
        var script = Path.Combine(_cluster.Root, "pasted.sh");
        File.WriteAllText(script, pasted + "\n");
        Launch(b, "/bin/sh", [script], path);
        var both = Poll.Until(() => Tool.TryRun(command, "peers", "--json", "--data-dir", a.DataDir) is { ExitCode: 0 } r
            && PeerEntry.ParseList(r.Stdout) is var v && v.Count == 2 && v.All(p => p.State == "alive"), TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        Assert.True(both is not null, "the installed nodes did not list each other alive");
        MountsThroughTheInstalledHelper(helper, prefix);
        foreach (var d in _daemons)
        {
            Assert.Equal(0, ProcessTree.TerminateWithChildren(d, TimeSpan.FromSeconds(30)));
        }

        var uninstall = Tool.TryRun("bash", [Path.Combine(SourceTree.RepoRoot, "scripts", "uninstall.sh")], TimeSpan.FromMinutes(2), env: env);
        Assert.True(uninstall.ExitCode == 0, uninstall.ToString());
        Assert.False(File.Exists(command), "uninstall left the command");
        Assert.False(Directory.Exists(Path.Combine(prefix, "lib", "dinomesh")), "uninstall left the program");
        Assert.False(File.Exists(unit), "uninstall left the unit");
        Assert.False(File.Exists(helper), "uninstall left the mount helper");
        Assert.False(File.Exists(fuse3Name), "uninstall left the mount helper's fuse3 name");
        Assert.True(File.Exists(config), "uninstall removed the config file (it must keep it)");
        Assert.True(Directory.Exists(a.DataDir), "uninstall removed a data directory (it must keep it)");
    }

    /// <summary>
    /// A third node, founding a cluster of its own, mounted as mount(8) would: the installed helper run with a PATH
    /// that lacks the installed command and no DINOMESH_NODE, so it must start the dino-node installed with it. Then
    /// unmounted, which stops that node.
    /// </summary>
    private void MountsThroughTheInstalledHelper(string helper, string prefix)
    {
        var c = _cluster.Add("c", "127.0.0.54");
        var env = new Dictionary<string, string> { ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin", ["DINOMESH_NODE"] = "" };
        var mounted = Tool.TryRun(helper, ["dinomesh", c.MountPoint, "-o", $"data-dir={c.DataDir},listen={c.Endpoint},membership-profile=local,log={c.LogPath}"],
            TimeSpan.FromSeconds(90), env: env);
        Assert.True(mounted.ExitCode == 0 && MountTable.IsFuseMounted(c.MountPoint), $"{mounted}\n{(File.Exists(c.LogPath) ? File.ReadAllText(c.LogPath) : "")}");
        var pid = int.Parse(Tool.Run("cat", Path.Combine(c.DataDir, "lock")).Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        _helperNode = (pid, c.MountPoint);
        var exe = Tool.Run("readlink", $"/proc/{pid}/exe").Stdout.Trim();
        Assert.StartsWith(Path.Combine(prefix, "lib", "dinomesh") + "/", exe, StringComparison.Ordinal);

        Assert.Equal(0, Tool.TryRun("umount", c.MountPoint).ExitCode);
        var exited = Poll.Until(() => !Directory.Exists($"/proc/{pid}"), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        Assert.True(exited is not null, $"the helper's node {pid} still runs 30 s after umount");
        _helperNode = null;
    }

    private DaemonProcess Launch(NodeProcess node, string file, string[] args, string path)
    {
        var daemon = DaemonProcess.Start(file, args, node.LogPath, new Dictionary<string, string?> { ["PATH"] = path });
        _daemons.Add(daemon);
        var up = Poll.Until(() => daemon.HasExited || MountTable.IsFuseMounted(node.MountPoint), TimeSpan.FromSeconds(60));
        Assert.True(up is not null && !daemon.HasExited, $"{node.Name} did not come up:\n{daemon.Stdout}\n{daemon.Stderr}");
        return daemon;
    }

    public void Dispose()
    {
        foreach (var d in _daemons)
        {
            if (!d.HasExited)
            {
                ProcessTree.TerminateWithChildren(d, TimeSpan.FromSeconds(10));
            }
            d.Dispose();
        }
        if (_helperNode is { } left && Directory.Exists($"/proc/{left.Pid}"))
        {
            Tool.TryRun("umount", "-l", left.MountPoint);
            Tool.TryRun("kill", "-KILL", left.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        _cluster.Dispose();
    }
}
