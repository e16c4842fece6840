using DinoMesh.Storage.Native;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

public sealed class DataDirectoryTests
{
    private const UnixFileMode Mode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Fact]
    public void Open_CreatesTheLayoutWithMode0700()
    {
        using var temp = new TempDirectory();
        string root = temp.Combine("a", "data");

        using var directory = DataDirectory.Open(root);

        Assert.Equal(root, directory.Root);
        foreach (string path in new[] { root, directory.ChunkDirectory, directory.MetadataDirectory, directory.TempDirectory })
        {
            Assert.True(Directory.Exists(path), path);
            Assert.Equal(Mode0700, File.GetUnixFileMode(path));
        }
        Assert.Equal(Path.Combine(root, "chunks"), directory.ChunkDirectory);
        Assert.Equal(Path.Combine(root, "tmp"), directory.TempDirectory);
        Assert.StartsWith(Path.Combine(root, "meta") + "/", directory.MetadataPath, StringComparison.Ordinal);
        Assert.Equal($"{Environment.ProcessId}", UnlockedFile.ReadAllText(directory.LockPath).Trim());
    }

    [Fact]
    public void Open_MarksTheDataDirectoryAsTheTopOfAHierarchy_SoItsTempFilesGetABlockGroupOfTheirOwn()
    {
        using var temp = new TempDirectory();
        if (DirectoryPlacement.SpreadsSubdirectories(temp.Path) is null) Assert.Skip("the test directory's file system has no inode flags (FS_IOC_GETFLAGS)");
        string root = temp.Combine("data");
        Directory.CreateDirectory(root);
        Assert.False(DirectoryPlacement.SpreadsSubdirectories(root));

        using var directory = DataDirectory.Open(root);

        // ext4's Orlov allocator places the subdirectories of a directory marked FS_TOPDIR_FL apart from it.
        Assert.True(DirectoryPlacement.SpreadsSubdirectories(root));
        Assert.False(DirectoryPlacement.SpreadsSubdirectories(directory.TempDirectory));
    }

    [Fact]
    public void Open_AnExistingDirectory_KeepsWhatIsThere()
    {
        using var temp = new TempDirectory();
        using (var first = DataDirectory.Open(temp.Path)) File.WriteAllText(Path.Combine(first.ChunkDirectory, "keep"), "x");

        using var again = DataDirectory.Open(temp.Path);

        Assert.Equal("x", File.ReadAllText(Path.Combine(again.ChunkDirectory, "keep")));
    }

    [Fact]
    public void Open_Twice_FailsWithInUseAndNamesThePid()
    {
        using var temp = new TempDirectory();
        using var first = DataDirectory.Open(temp.Path);

        var e = Assert.Throws<DataDirectoryException>(() => DataDirectory.Open(temp.Path));

        Assert.Equal(DataDirectoryProblem.InUse, e.Problem);
        Assert.Equal(Environment.ProcessId, e.HolderPid);
        Assert.Equal($"data directory {temp.Path} is in use by another dino-node (pid {Environment.ProcessId})", e.Message);
    }

    [Fact]
    public void Open_WhileAnotherProcessHoldsIt_FailsAtOnceNamingThatProcess()
    {
        using var temp = new TempDirectory();
        using var child = ChildProcess.StartHelper("hold", temp.Path);
        string line = child.WaitForLine(l => l.StartsWith("locked ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Assert.Equal($"locked {child.Pid}", line);

        var started = DateTime.UtcNow;
        var e = Assert.Throws<DataDirectoryException>(() => DataDirectory.Open(temp.Path));

        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(2), "a second node must fail at once, not wait for the lock");
        Assert.Equal(DataDirectoryProblem.InUse, e.Problem);
        Assert.Contains($"(pid {child.Pid})", e.Message, StringComparison.Ordinal);

        child.CloseInput();
        Assert.True(child.WaitForExit(TimeSpan.FromSeconds(10)), "the helper did not exit after stdin closed");
        using var mine = DataDirectory.Open(temp.Path);
    }

    [Fact]
    public void Open_AfterTheHolderWasKilled_Succeeds()
    {
        using var temp = new TempDirectory();
        using (var child = ChildProcess.StartHelper("hold", temp.Path))
        {
            child.WaitForLine(l => l.StartsWith("locked ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            child.KillHard();
        }

        // The stale pid is still in the lock file, but the kernel dropped the flock with the process.
        using var directory = DataDirectory.Open(temp.Path);
        Assert.Equal($"{Environment.ProcessId}", UnlockedFile.ReadAllText(directory.LockPath).Trim());
    }

    [Fact]
    public void Dispose_ReleasesTheLock()
    {
        using var temp = new TempDirectory();
        DataDirectory.Open(temp.Path).Dispose();

        using var again = DataDirectory.Open(temp.Path);

        Assert.Equal(temp.Path, again.Root);
    }

    [Fact]
    public void Open_OnAFile_FailsWithNotADirectory()
    {
        using var temp = new TempDirectory();
        string file = temp.Combine("file");
        File.WriteAllText(file, "not a directory");

        var e = Assert.Throws<DataDirectoryException>(() => DataDirectory.Open(file));

        Assert.Equal(DataDirectoryProblem.NotADirectory, e.Problem);
        Assert.Contains("is a file, not a directory", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Open_BelowAFile_FailsWithNotADirectory()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.Combine("file"), "x");

        var e = Assert.Throws<DataDirectoryException>(() => DataDirectory.Open(temp.Combine("file", "data")));

        Assert.Equal(DataDirectoryProblem.NotADirectory, e.Problem);
    }

    [Fact]
    public void Open_WhereASubdirectoryIsAFile_FailsWithNotADirectory()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.Combine("chunks"), "x");

        var e = Assert.Throws<DataDirectoryException>(() => DataDirectory.Open(temp.Path));

        Assert.Equal(DataDirectoryProblem.NotADirectory, e.Problem);
        Assert.Contains(temp.Combine("chunks"), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_OnAReadOnlyFilesystem_FailsWithNotWritable()
    {
        // chmod 0500 does not stop root, so make the filesystem itself read-only.
        using var tmpfs = Tmpfs.Mount("1m");
        DataDirectory.Open(tmpfs.Path).Dispose();
        Directory.CreateDirectory(Path.Combine(tmpfs.Path, "empty"));
        tmpfs.RemountReadOnly();

        var existing = Assert.Throws<DataDirectoryException>(() => DataDirectory.Open(tmpfs.Path));
        var toCreate = Assert.Throws<DataDirectoryException>(() => DataDirectory.Open(Path.Combine(tmpfs.Path, "empty", "data")));

        Assert.Equal(DataDirectoryProblem.NotWritable, existing.Problem);
        Assert.Equal(DataDirectoryProblem.NotWritable, toCreate.Problem);
        Assert.StartsWith($"data directory {tmpfs.Path} is not writable", existing.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', existing.Message);
    }

    [Fact]
    public void DefaultPath_FollowsTheUserAndXdg()
    {
        Assert.Equal("/var/lib/dinomesh", DataDirectory.DefaultPath(isRoot: true, "/x/data", "/root"));
        Assert.Equal("/x/data/dinomesh", DataDirectory.DefaultPath(isRoot: false, "/x/data", "/home/ann"));
        Assert.Equal("/home/ann/.local/share/dinomesh", DataDirectory.DefaultPath(isRoot: false, null, "/home/ann"));
        Assert.Equal("/home/ann/.local/share/dinomesh", DataDirectory.DefaultPath(isRoot: false, "", "/home/ann"));
        // The XDG base directory spec: a relative path is invalid and ignored.
        Assert.Equal("/home/ann/.local/share/dinomesh", DataDirectory.DefaultPath(isRoot: false, "relative", "/home/ann"));
    }

    [Fact]
    public void DefaultPath_ForThisProcess_MatchesItsUser()
    {
        bool isRoot = Native.LibC.Geteuid() == 0;
        string expected = DataDirectory.DefaultPath(isRoot, Environment.GetEnvironmentVariable("XDG_DATA_HOME"),
            Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

        Assert.Equal(expected, DataDirectory.DefaultPath());
        if (isRoot) Assert.Equal("/var/lib/dinomesh", DataDirectory.DefaultPath());
    }
}
