using System.Security.Cryptography;
using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Lifecycle;

/// <summary>
/// Restart, crash and unmount behaviour of a FUSE daemon, each test with its own daemon. Written
/// for dino-node; also run on bindfs, which keeps its data in a plain directory, to validate the
/// harness itself (start, SIGTERM, SIGKILL, outside unmount) against a real FUSE daemon.
/// </summary>
public abstract class LifecycleTests : TrackedTargets
{
    private MountedTarget? _target;

    protected MountedTarget Target => _target ?? throw new InvalidOperationException("not initialized");

    /// <summary>Makes a started target of the kind under test.</summary>
    protected abstract MountedTarget StartTarget();

    public override ValueTask InitializeAsync()
    {
        _target = Make(StartTarget);
        return ValueTask.CompletedTask;
    }

    private string P(params string[] parts) => Path.Combine([Target.Root, .. parts]);

    private static uint Oct(int digits) => Posix.Oct(digits);

    private static void Ok(Errno e, string what) => Assert.True(e == Errno.OK, $"{what}: {e}");

    private static byte[] RandomBytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static string Sha(byte[] data) => Convert.ToHexString(SHA256.HashData(data));

    /// <summary>Builds a small tree with varied sizes, modes, owners, links, xattrs and nanosecond times; returns the expected content hashes.</summary>
    private Dictionary<string, string> BuildTree()
    {
        var content = new Dictionary<string, string>();
        void File(string rel, byte[] data, uint mode, uint uid = 0, uint gid = 0)
        {
            System.IO.File.WriteAllBytes(P(rel), data);
            Ok(Posix.Chown(P(rel), uid, gid), "chown");
            Ok(Posix.Chmod(P(rel), mode), "chmod");
            content[rel] = Sha(data);
        }

        Ok(Posix.Mkdir(P("tree"), Oct(755)), "mkdir");
        Ok(Posix.Mkdir(P("tree", "sub"), Oct(755)), "mkdir");
        Ok(Posix.Mkdir(P("tree", "sub", "deep"), Oct(700)), "mkdir");
        File("tree/empty", [], Oct(644));
        File("tree/one", [42], Oct(600));
        File("tree/sub/small", RandomBytes(100_000, 1), Oct(640), Nobody.Uid, Nobody.Gid);
        File("tree/sub/big", RandomBytes(5 << 20, 2), Oct(755));
        File("tree/sub/deep/setuid", RandomBytes(1000, 3), Oct(4750));
        Ok(Posix.Symlink("sub/big", P("tree", "link")), "symlink");
        if (WithHardLink)
        {
            Ok(Posix.Link(P("tree", "sub", "small"), P("tree", "hard")), "link");
            content["tree/hard"] = content["tree/sub/small"];
        }
        Ok(Posix.SetXattr(P("tree", "one"), "user.tag", "kept"u8.ToArray()), "setxattr");

        // Times last, deepest first, so creating children does not move them again.
        var ns = 1;
        // The hard link's times are its target's: set once, through the other name.
        foreach (var rel in TreePaths.Where(r => r != "tree/hard").OrderByDescending(r => r.Count(c => c == '/')))
        {
            Ok(Posix.Utimens(P(rel), (1_500_000_000 + ns, ns * 1111), (1_400_000_000 + ns, ns * 7777), noFollow: true), $"utimensat {rel}");
            ns++;
        }
        return content;
    }

    /// <summary>
    /// A hard link is part of the tree only where both names are one kernel inode; elsewhere (bindfs)
    /// the second name's cached attributes are stale and would fail the comparison for the wrong reason.
    /// </summary>
    private bool WithHardLink => Target.Lacks(Feature.HardLinksShareOneInode) is null;

    private string[] TreePaths =>
    [
        "tree", "tree/sub", "tree/sub/deep", "tree/empty", "tree/one", "tree/sub/small", "tree/sub/big",
        "tree/sub/deep/setuid", "tree/link", .. WithHardLink ? new[] { "tree/hard" } : [],
    ];

    private Dictionary<string, FileStat> Snapshot() => TreePaths.ToDictionary(r => r, r => Posix.Lstat(P(r)));

    [Fact]
    public void Restart_keeps_content_modes_owners_times_and_inode_numbers()
    {
        var content = BuildTree();
        var before = Snapshot();

        Target.Restart();

        // stat everything before reading anything, so atimes are compared untouched.
        var after = Snapshot();
        var inodesStable = Target.Lacks(Feature.StableInodesAcrossRestart) is null;
        foreach (var rel in TreePaths)
        {
            var (a, b) = (before[rel], after[rel]);
            Assert.True(a.Mode == b.Mode, $"{rel}: mode {Convert.ToString(b.Mode, 8)} != {Convert.ToString(a.Mode, 8)}");
            Assert.True((a.Uid, a.Gid) == (b.Uid, b.Gid), $"{rel}: owner {b.Uid}:{b.Gid} != {a.Uid}:{a.Gid}");
            Assert.True(a.Size == b.Size, $"{rel}: size {b.Size} != {a.Size}");
            Assert.True(a.Nlink == b.Nlink, $"{rel}: nlink {b.Nlink} != {a.Nlink}");
            Assert.True(a.Mtime == b.Mtime, $"{rel}: mtime {b.Mtime} != {a.Mtime}");
            Assert.True(a.Atime == b.Atime, $"{rel}: atime {b.Atime} != {a.Atime}");
            Assert.True(a.Ctime == b.Ctime, $"{rel}: ctime {b.Ctime} != {a.Ctime}");
            if (inodesStable)
            {
                // Regression: a predecessor renumbered inodes on every start.
                Assert.True(a.Inode == b.Inode, $"{rel}: inode {b.Inode} != {a.Inode} after restart");
            }
        }
        foreach (var (rel, sha) in content)
        {
            Assert.True(sha == Sha(File.ReadAllBytes(P(rel))), $"{rel}: content changed across restart");
        }
        Assert.Equal(Errno.OK, Posix.Readlink(P("tree", "link"), out var link));
        Assert.Equal("sub/big", link);
        Assert.Equal(Errno.OK, Posix.GetXattr(P("tree", "one"), "user.tag", out var tag));
        Assert.Equal("kept"u8.ToArray(), tag);
        Assert.Equal(
            ["big", "deep", "small"],
            Directory.EnumerateFileSystemEntries(P("tree", "sub")).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal));
        if (!inodesStable)
        {
            Assert.Skip($"content, modes, owners and times survived; inode numbers not checked: {Target.Lacks(Feature.StableInodesAcrossRestart)}");
        }
    }

    [Fact]
    public void Kill9_after_fsync_keeps_the_fsynced_file_and_a_consistent_tree()
    {
        Ok(Posix.Mkdir(P("crash"), Oct(755)), "mkdir");
        for (var i = 0; i < 20; i++)
        {
            File.WriteAllText(P("crash", $"before-{i}"), $"file {i}");
        }
        var a = RandomBytes(3 << 20, 7);
        using (var fd = Posix.Open(P("crash", "A"), Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, Oct(644)))
        {
            fd.Write(a);
            Ok(fd.Fsync(), "fsync A");
        }
        var b = RandomBytes(1 << 20, 8);
        File.WriteAllBytes(P("crash", "B"), b);

        Target.Kill9();
        Target.Start();

        // What was fsync'ed must be there, whole.
        Assert.True(File.Exists(P("crash", "A")), "the fsync'ed file A is gone after kill -9");
        Assert.Equal(Sha(a), Sha(File.ReadAllBytes(P("crash", "A"))));

        // Everything listed must stat and read to its stated size; B may be absent or short, never broken.
        var checkedFiles = 0;
        foreach (var path in Directory.EnumerateFileSystemEntries(Target.Root, "*", SearchOption.AllDirectories))
        {
            var e = Posix.Lstat(path, out var st);
            Assert.True(e == Errno.OK, $"{path} is listed but lstat says {e}");
            if (st.IsRegular)
            {
                var data = File.ReadAllBytes(path);
                Assert.True(data.LongLength == st.Size, $"{path}: read {data.Length} bytes, stat says {st.Size}");
                checkedFiles++;
            }
        }
        Assert.True(checkedFiles >= 21, $"only {checkedFiles} files survived the crash");
        if (File.Exists(P("crash", "B")))
        {
            Assert.True(new FileInfo(P("crash", "B")).Length <= b.Length);
        }
    }

    [Fact]
    public void Mount_is_shared_with_other_users_and_permission_checked_by_the_kernel()
    {
        // Without these the non-root permission tests would pass or fail for the wrong reason.
        var options = MountTable.SuperOptionsAt(Target.MountPoint);
        Assert.Contains("allow_other", options);
        Assert.Contains("default_permissions", options);
    }

    [Fact]
    public void Unmount_from_outside_makes_the_daemon_exit_0()
    {
        File.WriteAllText(P("before-unmount"), "x");
        Tool.Run("umount", [Target.MountPoint], TimeSpan.FromSeconds(15));
        var code = Target.WaitForDaemonExit(TimeSpan.FromSeconds(15));
        Assert.True(code is not null, $"{Target.Name} still runs 15 s after its mount was unmounted");
        Assert.Equal(0, code);
        Assert.False(MountTable.IsFuseMounted(Target.MountPoint));
    }

    [Fact]
    public void Sigterm_exits_0_and_removes_the_mount()
    {
        File.WriteAllText(P("before-stop"), "x");
        var pid = Target.DaemonPid;
        var code = Target.Stop();
        Assert.True(code is not null, $"{Target.Name} (pid {pid}) did not exit within 15 s of SIGTERM");
        Assert.Equal(0, code);
        Assert.False(MountTable.IsFuseMounted(Target.MountPoint), "the mount outlived the daemon");
    }
}

/// <summary>Lifecycle tests on bindfs: validates the harness against a real FUSE daemon.</summary>
public sealed class Bindfs_LifecycleTests : LifecycleTests
{
    protected override MountedTarget StartTarget() => BindfsTarget.Mount();
}

/// <summary>Lifecycle tests on dino-node: persistence across restarts and crashes, clean exits.</summary>
public sealed class DinoNode_LifecycleTests : LifecycleTests
{
    protected override MountedTarget StartTarget() => DinoNodeTarget.Mount();
}
