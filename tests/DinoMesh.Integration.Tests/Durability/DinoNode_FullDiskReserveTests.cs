using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// A volume whose disk is 100 % full can still be emptied from inside: the metadata log keeps a reserve that only
/// unlink, rmdir, truncate to zero and rename may use. The disk is filled by a plain file beside the data directory
/// and then by creating files through the mount until the log itself answers ENOSPC.
/// </summary>
public sealed class DinoNode_FullDiskReserveTests : DurabilityHarness
{
    private const int DiskMiB = 64;
    private const int Victims = 60;

    [Fact]
    public void On_a_full_disk_unlink_rmdir_truncate_to_zero_and_rename_work_and_survive_a_restart()
    {
        var disk = MountTmpfs(DiskMiB);
        var node = StartNode(Path.Combine(disk.Path, "data"));
        var victims = Path.Combine(node.Root, "victims");
        Assert.Equal(Errno.OK, Posix.Mkdir(victims, Posix.Oct(755)));
        for (var i = 0; i < Victims; i++)
        {
            Assert.True(KnownContent.WriteFile(Path.Combine(victims, $"v{i:D2}"), KnownContent.Bytes(i, 200), fsync: i == Victims - 1).Ok);
        }
        var emptyDir = Path.Combine(node.Root, "empty-dir");
        Assert.Equal(Errno.OK, Posix.Mkdir(emptyDir, Posix.Oct(755)));
        var truncated = Path.Combine(node.Root, "truncated");
        var opened = Path.Combine(node.Root, "opened-with-trunc");
        var renamed = Path.Combine(node.Root, "renamed-from");
        foreach (var path in new[] { truncated, opened, renamed })
        {
            Assert.True(KnownContent.WriteFile(path, KnownContent.Bytes(path.Length, 3000)).Ok);
        }

        FillDisk(Path.Combine(disk.Path, "filler"));
        var creates = FillLog(Path.Combine(node.Root, "fill-log"));
        TestContext.Current.TestOutputHelper?.WriteLine($"{creates} files created through the mount before the log was full");

        var problems = new List<string>();
        void Expect(string what, Errno e)
        {
            if (e != Errno.OK)
            {
                problems.Add($"{what} on a full disk -> {e}");
            }
        }
        for (var i = 0; i < Victims; i++)
        {
            Expect($"unlink v{i:D2}", Posix.Unlink(Path.Combine(victims, $"v{i:D2}")));
        }
        Expect("rmdir of the emptied directory", Posix.Rmdir(victims));
        Expect("rmdir", Posix.Rmdir(emptyDir));
        Expect("truncate to 0", Posix.Truncate(truncated, 0));
        var openTrunc = Posix.Open(opened, Posix.O_WRONLY | Posix.O_TRUNC, 0, out var fd);
        Expect("open(O_TRUNC)", openTrunc);
        if (openTrunc == Errno.OK)
        {
            Expect("close after open(O_TRUNC)", Posix.Close(fd));
        }
        Expect("rename", Posix.Rename(renamed, renamed + "-to"));
        using (var root = Posix.Open(node.Root, Posix.O_RDONLY))
        {
            Expect("fsync of the root directory", root.Fsync());
        }
        if (node.DaemonPid is null)
        {
            problems.Add("the daemon died");
        }
        AssertNoProblems(problems, $"full disk ({creates} creates filled the log)");

        node.Stop();
        node.Start();
        Check(Posix.Lstat(victims, out _) == Errno.ENOENT, "the removed directory is back after the restart", problems);
        Check(Posix.Lstat(emptyDir, out _) == Errno.ENOENT, "the removed empty directory is back after the restart", problems);
        Check(Posix.Lstat(truncated, out var t) == Errno.OK && t.Size == 0, "the truncated file is not empty after the restart", problems);
        Check(Posix.Lstat(opened, out var o) == Errno.OK && o.Size == 0, "the file opened with O_TRUNC is not empty after the restart", problems);
        Check(Posix.Lstat(renamed, out _) == Errno.ENOENT && Posix.Lstat(renamed + "-to", out _) == Errno.OK, "the rename did not survive the restart", problems);
        AssertNoProblems(problems, "after the restart");
    }

    private static void Check(bool ok, string problem, List<string> problems)
    {
        if (!ok)
        {
            problems.Add(problem);
        }
    }

    /// <summary>Creates small files until the mount answers ENOSPC (the log is full); returns how many were made.</summary>
    private static int FillLog(string dir)
    {
        Assert.Equal(Errno.OK, Posix.Mkdir(dir, Posix.Oct(755)));
        for (var i = 0; i < 200_000; i++)
        {
            var e = Posix.Open(Path.Combine(dir, $"n{i}"), Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, Posix.Oct(644), out var fd);
            if (e == Errno.ENOSPC)
            {
                return i;
            }
            Assert.Equal(Errno.OK, e);
            Posix.Close(fd);
        }
        throw new InvalidOperationException("the log never filled up");
    }

    /// <summary>Writes a plain file beside the data directory until the tmpfs answers ENOSPC.</summary>
    private static void FillDisk(string path)
    {
        var block = new byte[1 << 20];
        new Random(3).NextBytes(block);
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
        foreach (var size in new[] { 1 << 20, 4096 })
        {
            for (var i = 0; i < DiskMiB * 256; i++)
            {
                try
                {
                    file.Write(block, 0, size);
                }
                catch (IOException)
                {
                    break;
                }
            }
        }
    }
}
