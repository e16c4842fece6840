using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Lifecycle;

/// <summary>
/// What an operator meets after a crash and with the wrong user: a restart over the dead FUSE mount the crashed
/// process left behind just works (so `Restart=on-failure` does), while a mount that is not a dead dinomesh mount is
/// still refused; and `dino-node peers` as an unprivileged user says that it lacks permission, not that no node runs.
/// </summary>
public sealed class DinoNode_RestartAfterCrashTests : TrackedTargets
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void A_restart_over_the_dead_mount_of_a_killed_node_unmounts_it_and_serves_the_volume()
    {
        var node = Make(DinoNodeTarget.Mount);
        var path = Path.Combine(node.MountPoint, "survivor");
        var data = Durability.KnownContent.Bytes(5, 10_000);
        Assert.True(Durability.KnownContent.WriteFile(path, data).Ok);
        // SIGKILL without the harness's clean-up: the dead mount stays, as after a real crash.
        Assert.Equal(Errno.OK, Posix.Kill(node.DaemonPid!.Value, 9));
        Assert.NotNull(node.WaitForDaemonExit(Timeout));
        Assert.True(MountTable.IsFuseMounted(node.MountPoint), "the killed node's mount should still be listed");
        Assert.Equal(Errno.ENOTCONN, Posix.Stat(node.MountPoint, out _));

        node.Start();

        // Start returns as soon as a FUSE mount is listed, which the dead one already was: wait until the new node
        // says it mounted (its second "mounted" line) and the mount answers.
        var deadline = DateTime.UtcNow + Timeout;
        while (!(MountedLines(node) >= 2 && Posix.Stat(node.MountPoint, out _) == Errno.OK) && node.DaemonPid is not null && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(50);
        }
        Check.True(node.DaemonPid is not null, () => $"the restarted node exited:\n{node.Diagnostics()}");
        var (error, found, _) = Durability.KnownContent.ReadFile(path);
        Assert.Equal(Errno.OK, error);
        Assert.Equal(data, found);
        Assert.Contains("dead", File.ReadAllText(node.LogPath), StringComparison.Ordinal);
    }

    private static int MountedLines(DinoNodeTarget node) =>
        File.ReadAllLines(node.LogPath).Count(l => l.Contains($"mounted {node.MountPoint} (inodes", StringComparison.Ordinal));

    [Fact]
    public void A_live_mount_that_is_not_a_dead_dinomesh_mount_is_still_refused_and_left_alone()
    {
        var node = Make(() => DinoNodeTarget.Create());
        Tool.Run("mount", "-t", "tmpfs", "-o", "size=1m", "dinomesh-durability-test", node.MountPoint);
        try
        {
            using var daemon = node.Launch();
            var code = daemon.WaitForExit(Timeout);
            Assert.True(code is not null and not 0, $"dino-node over a tmpfs mount exited with {code?.ToString() ?? "nothing (still running)"}");
            Assert.Contains(node.MountPoint, daemon.Stderr, StringComparison.Ordinal);
            Assert.Equal("tmpfs", MountTable.FsTypeAt(node.MountPoint));
        }
        finally
        {
            Tool.TryRun("umount", "-l", node.MountPoint);
        }
    }

    [Fact]
    public void Peers_as_an_unprivileged_user_reports_permission_denied_not_a_missing_node()
    {
        var node = Make(DinoNodeTarget.Mount);

        var r = Nobody.Run(SourceTree.DaemonCommand.File, [.. SourceTree.DaemonCommand.Prefix, "peers", "--data-dir", node.DataDir]);

        Assert.True(r.ExitCode != 0, $"peers as uid 65534 succeeded: {r}");
        Assert.Contains("permission denied", r.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("no dino-node is running", r.Stderr, StringComparison.Ordinal);
    }
}
