using System.Text.Json;
using DinoMesh.Integration.Tests.Durability;
using DinoMesh.Integration.Tests.Lifecycle;
using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

/// <summary>
/// What only dino-node has, each test with its own daemon: chunk sharing by copy_file_range, atime modes as mount
/// options (compared with a tmpfs mounted with the same option), the mount's source name, and mount(8) integration
/// through the mount.fuse.dinomesh helper.
/// </summary>
public sealed class DinoNode_VolumeTests : TrackedTargets
{
    private const long MiB = 1L << 20;

    private static uint Oct(int digits) => Posix.Oct(digits);

    private static void Ok(Errno e, string what) => Assert.True(e == Errno.OK, $"{what}: {e}");

    private static JsonElement Status(DinoNodeTarget target) =>
        JsonDocument.Parse(Tool.Run(SourceTree.DaemonCommand.File, [.. SourceTree.DaemonCommand.Prefix, "status", "--json", "--data-dir", target.DataDir]).Stdout).RootElement;

    private static long AppliedVersion(DinoNodeTarget target) => Status(target).GetProperty("appliedVersion").GetInt64();

    private static int ChunkFiles(DinoNodeTarget target) =>
        Directory.EnumerateFiles(Path.Combine(target.DataDir, "chunks"), "*", SearchOption.AllDirectories).Count(f => !f.Contains("quarantine", StringComparison.Ordinal));

    [Fact]
    public void Copy_file_range_of_a_large_file_shares_its_chunks_in_one_commit()
    {
        // noatime: a deferred atime commit of the source must not land inside the measured window.
        var node = Make(() => DinoNodeTarget.Mount("--atime", "noatime"));
        var src = Path.Combine(node.Root, "src");
        var data = new byte[40 * MiB + 4321];
        new Random(5).NextBytes(data);
        using (var fd = Posix.Open(src, Posix.O_CREAT | Posix.O_WRONLY, Oct(644)))
        {
            fd.PWrite(data, 0);
            fd.PWrite(data.AsSpan(0, 1000), 200 * MiB);   // and a hole of 160 MiB
            Ok(fd.Fsync(), "fsync");
        }
        using var from = Posix.Open(src, Posix.O_RDONLY);
        using var to = Posix.Open(Path.Combine(node.Root, "dst"), Posix.O_CREAT | Posix.O_WRONLY, Oct(644));
        var size = 200 * MiB + 1000;
        var chunksBefore = ChunkFiles(node);
        var versionBefore = AppliedVersion(node);

        Ok(Posix.CopyFileRange(from.Fd, 0, to.Fd, 0, size, out var copied), "copy_file_range");

        Assert.Equal(size, copied);
        Assert.Equal(versionBefore + 1, AppliedVersion(node));
        Assert.Equal(chunksBefore, ChunkFiles(node));
        var srcStat = Posix.Stat(src);
        var dstStat = Posix.Stat(Path.Combine(node.Root, "dst"));
        Assert.Equal(size, dstStat.Size);
        Assert.Equal(srcStat.Blocks, dstStat.Blocks);
        Assert.Equal(Tool.Run("sha256sum", src).Stdout.Split(' ')[0], Tool.Run("sha256sum", Path.Combine(node.Root, "dst")).Stdout.Split(' ')[0]);
    }

    [Fact]
    public void Atime_set_by_a_read_survives_a_restart()
    {
        var node = Make(DinoNodeTarget.Mount);
        var f = Path.Combine(node.Root, "f");
        File.WriteAllText(f, "read me");
        Ok(Posix.Utimens(f, (1_500_000_000, 0), (1_500_000_000, 0)), "utimensat");
        Assert.Equal("read me", File.ReadAllText(f));
        var atime = Posix.Stat(f).Atime;
        Assert.True(atime.Seconds > 1_500_000_000, $"the read did not move atime ({atime})");
        node.Restart();
        Assert.Equal(atime, Posix.Stat(f).Atime);
    }

    /// <summary>Reads a file whose atime is not newer than its mtime, then again; says whether each read moved atime.</summary>
    private static (bool First, bool Second) ReadTwice(string dir)
    {
        var f = Path.Combine(dir, "f");
        File.WriteAllText(f, "content");
        Ok(Posix.Utimens(f, (1_500_000_000, 0), (1_500_000_000, 0)), "utimensat");
        var a0 = Posix.Stat(f).Atime;
        File.ReadAllText(f);
        var a1 = Posix.Stat(f).Atime;
        Thread.Sleep(30);
        File.ReadAllText(f);
        var a2 = Posix.Stat(f).Atime;
        return (a1 != a0, a2 != a1);
    }

    [Theory]
    [InlineData("noatime", false, false)]
    [InlineData("relatime", true, false)]
    [InlineData("strictatime", true, true)]
    public void Atime_mode_behaves_as_on_a_tmpfs_mounted_with_it(string mode, bool firstMoves, bool secondMoves)
    {
        Tmpfs reference;
        try
        {
            reference = Tmpfs.Mount(4, mode);
        }
        catch (TargetUnavailableException e)
        {
            Requirement.Unavailable(e.Message);
            throw;
        }
        using (reference)
        {
            Assert.Equal((firstMoves, secondMoves), ReadTwice(reference.Path));
        }
        var node = Make(() => DinoNodeTarget.Mount("--atime", mode));
        Assert.Equal((firstMoves, secondMoves), ReadTwice(node.Root));
        var options = MountTable.MountOptionsAt(node.MountPoint);
        Assert.Equal(mode == "noatime", options.Contains("noatime"));
        Assert.Equal(mode == "relatime", options.Contains("relatime"));
    }

    [Fact]
    public void Mount_source_names_the_cluster_or_what_fsname_says()
    {
        var node = Make(DinoNodeTarget.Mount);
        var cluster = Status(node).GetProperty("clusterId").GetString()!;
        Assert.Equal($"dinomesh:{cluster[..12]}", MountTable.SourceAt(node.MountPoint));

        var named = Make(() => DinoNodeTarget.Mount("--fsname", "dino-volume-a"));
        Assert.Equal("dino-volume-a", MountTable.SourceAt(named.MountPoint));
        Assert.Contains("dino-volume-a", Tool.Run("df", "-P", named.MountPoint).Stdout, StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs in a private mount namespace whose /usr/sbin (= /sbin) holds only fuse3's mount.fuse helpers and ours, so
    /// mount(8) finds /sbin/mount.fuse.dinomesh as it would once installed, without touching the machine's /sbin.
    /// </summary>
    private const string HelperScenario = """
        helper=$1 fstab=$2 mnt=$3 data=$4 stash=$5
        for f in /usr/sbin/mount.fuse /usr/sbin/mount.fuse3; do [ -e "$f" ] && cp -a "$f" "$stash/"; done
        mount -t tmpfs -o size=4m,mode=0755 dinomesh-posix-sbin /usr/sbin
        cp -a "$stash"/. /usr/sbin/
        install -m 0755 "$helper" /usr/sbin/mount.fuse.dinomesh
        stop() {
          umount -l "$mnt" 2>/dev/null || true
          pid=$(cat "$data/lock" 2>/dev/null || true)
          [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
        }
        trap stop EXIT
        mount -T "$fstab" "$mnt"
        echo "mounted: $(findmnt -n -o SOURCE,FSTYPE "$mnt") $(findmnt -n -o VFS-OPTIONS "$mnt")"
        echo "status: $($DINOMESH_NODE status --data-dir "$data" | grep -E '^(chunks|replicas) ' | tr '\n' ' ')"
        echo hello > "$mnt/f"
        mount -T "$fstab" -o remount,ro "$mnt"
        echo "after remount,ro: $(findmnt -n -o VFS-OPTIONS "$mnt")"
        if echo x 2>/dev/null > "$mnt/g"; then echo "a write succeeded on the read-only mount"; exit 1; fi
        echo "read: $(cat "$mnt/f")"
        mount -T "$fstab" -o remount,rw "$mnt"
        echo world > "$mnt/g"
        echo "after remount,rw: $(findmnt -n -o VFS-OPTIONS "$mnt") $(cat "$mnt/g")"
        pid=$(cat "$data/lock")
        umount "$mnt"
        i=0
        while kill -0 "$pid" 2>/dev/null; do
          i=$((i + 1)); [ "$i" -le 300 ] || { echo "dino-node still runs 30 s after umount"; exit 1; }
          sleep 0.1
        done
        echo "dino-node exited after umount"
        """;

    [Fact]
    public void Mount_helper_mounts_an_fstab_line_with_its_node_settings_and_remount_toggles_read_only()
    {
        var scratch = Make(() => DinoNodeTarget.Create());
        var helper = Path.Combine(DinoNodeTarget.Repository, "scripts", "mount.fuse.dinomesh");
        var fstab = Path.Combine(scratch.TempDir, "fstab");
        var stash = Directory.CreateDirectory(Path.Combine(scratch.TempDir, "sbin")).FullName;
        File.WriteAllText(fstab,
            $"# the line an operator would put in /etc/fstab (here with a test-only data directory and port)\n" +
            $"dinomesh:helper-test {scratch.MountPoint} fuse.dinomesh defaults,_netdev,noatime,data-dir={scratch.DataDir},listen=127.0.0.1:0,log={scratch.LogPath}," +
            "replicas=1,cache-size=64M,gc-grace=10m,commit-timeout=5 0 0\n");

        var r = Tool.TryRun("unshare", ["--mount", "--propagation", "private", "sh", "-eu", "-c", HelperScenario, "sh", helper, fstab, scratch.MountPoint, scratch.DataDir, stash],
            TimeSpan.FromSeconds(180), env: new Dictionary<string, string> { ["DINOMESH_NODE"] = SourceTree.DaemonShellCommand });

        Check.True(r.ExitCode == 0, () => $"{r}\n{scratch.Diagnostics()}");
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("mounted: dinomesh:helper-test fuse.dinomesh rw,", lines[0], StringComparison.Ordinal);
        Assert.Contains("noatime", lines[0], StringComparison.Ordinal);
        // The node settings in the fstab line reached dino-node: status reports them.
        Assert.Contains("of 64 MiB)", lines[1], StringComparison.Ordinal);
        Assert.Contains("deleted after 600 s", lines[1], StringComparison.Ordinal);
        Assert.Contains("replicas   1 over", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("after remount,ro: ro,", lines[2], StringComparison.Ordinal);
        Assert.Equal("read: hello", lines[3]);
        Assert.StartsWith("after remount,rw: rw,", lines[4], StringComparison.Ordinal);
        Assert.EndsWith(" world", lines[4], StringComparison.Ordinal);
        Assert.Equal("dino-node exited after umount", lines[5]);
        // mount(8) runs its helpers with no PATH at all; a node started without one could not start its mount guardian.
        Assert.DoesNotContain("no mount guardian", File.ReadAllText(scratch.LogPath), StringComparison.Ordinal);
    }
}
