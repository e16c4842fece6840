using DinoMesh.Fuse.Tests.Support;

namespace DinoMesh.Fuse.Tests.Mounted;

/// <summary>Real syscalls and real programs against a mounted in-memory filesystem.</summary>
public sealed class FileOperationTests
{
    [Fact]
    public async Task Mount_NegotiatesTheProtocolAndCallsMounted()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);

        Assert.NotNull(fs.Notifier);
        Assert.Equal(38u, mount.Mount.Connection.ProtocolMinor);
        Assert.Equal(1024u * 1024, mount.Mount.Connection.MaxWrite);
        Assert.True(mount.Mount.Connection.WritebackCache);
        Assert.True(mount.Mount.Connection.ReaddirPlus);
        Assert.Contains(mount.Logger.Entries, e => e.Message.Contains("speaking 7.38", StringComparison.Ordinal));
        var line = File.ReadAllLines("/proc/self/mountinfo").Single(l => l.Contains(" " + mount.Path + " ", StringComparison.Ordinal));
        Assert.Contains("fuse.dinomesh-test", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MkdirWriteRead_ThroughSystemIo()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);

        Directory.CreateDirectory(mount["a/b"]);
        await File.WriteAllTextAsync(mount["a/b/hello.txt"], "hello, fuse", TestContext.Current.CancellationToken);

        Assert.Equal("hello, fuse", await File.ReadAllTextAsync(mount["a/b/hello.txt"], TestContext.Current.CancellationToken));
        Assert.True(Directory.Exists(mount["a"]));
        Assert.Equal(["hello.txt"], Directory.GetFiles(mount["a/b"]).Select(Path.GetFileName));
        Assert.Equal(11, new FileInfo(mount["a/b/hello.txt"]).Length);
    }

    [Fact]
    public async Task CpAndCat_SeeTheSameBytes()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);
        string source = Path.Combine(mount.Root, "source.bin");
        var content = new byte[300_000];
        new Random(7).NextBytes(content);
        await File.WriteAllBytesAsync(source, content, TestContext.Current.CancellationToken);

        await ProcessRunner.RunCheckedAsync("cp", source, mount["copy.bin"]);
        await ProcessRunner.RunCheckedAsync("cp", mount["copy.bin"], Path.Combine(mount.Root, "back.bin"));
        var cat = await ProcessRunner.RunCheckedAsync("sh", "-c", $"cat '{mount["copy.bin"]}' | sha256sum");

        Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(mount.Root, "back.bin"), TestContext.Current.CancellationToken));
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
        Assert.StartsWith(expected, cat.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stat_ReportsSizesAndModes()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);
        Directory.CreateDirectory(mount["dir"]);
        await File.WriteAllBytesAsync(mount["dir/f"], new byte[12345], TestContext.Current.CancellationToken);
        await ProcessRunner.RunCheckedAsync("chmod", "0640", mount["dir/f"]);
        await ProcessRunner.RunCheckedAsync("chmod", "0750", mount["dir"]);

        var file = await ProcessRunner.RunCheckedAsync("stat", "-c", "%s %a %F %h", mount["dir/f"]);
        var dir = await ProcessRunner.RunCheckedAsync("stat", "-c", "%a %F %h", mount["dir"]);

        Assert.Equal("12345 640 regular file 1", file.StdOut.Trim());
        Assert.Equal("750 directory 2", dir.StdOut.Trim());
    }

    [Fact]
    public async Task SymlinkAndReadlink()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);
        await File.WriteAllTextAsync(mount["target"], "via link", TestContext.Current.CancellationToken);

        await ProcessRunner.RunCheckedAsync("ln", "-s", "target", mount["link"]);
        var readlink = await ProcessRunner.RunCheckedAsync("readlink", mount["link"]);

        Assert.Equal("target", readlink.StdOut.Trim());
        Assert.Equal("via link", await File.ReadAllTextAsync(mount["link"], TestContext.Current.CancellationToken));
        Assert.Equal("target", new FileInfo(mount["link"]).LinkTarget);
    }

    [Fact]
    public async Task RenameUnlinkRmdirAndHardLink()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);
        Directory.CreateDirectory(mount["d"]);
        await File.WriteAllTextAsync(mount["d/one"], "1", TestContext.Current.CancellationToken);

        File.Move(mount["d/one"], mount["two"]);
        await ProcessRunner.RunCheckedAsync("ln", mount["two"], mount["three"]);
        var links = await ProcessRunner.RunCheckedAsync("stat", "-c", "%h", mount["two"]);
        Directory.Delete(mount["d"]);
        File.Delete(mount["two"]);

        Assert.Equal("2", links.StdOut.Trim());
        Assert.False(Directory.Exists(mount["d"]));
        Assert.False(File.Exists(mount["two"]));
        Assert.Equal("1", await File.ReadAllTextAsync(mount["three"], TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Readdir_ListsManyEntriesAcrossSeveralReplies()
    {
        const int count = 5000;
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);
        Directory.CreateDirectory(mount["many"]);
        for (int i = 0; i < count; i++)
            await File.WriteAllBytesAsync(mount[$"many/file-{i:D5}-with-a-longer-name"], [], TestContext.Current.CancellationToken);

        long before = fs.ReadDirCount;
        var names = Directory.GetFiles(mount["many"]).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        long requests = fs.ReadDirCount - before;
        var ls = await ProcessRunner.RunCheckedAsync("ls", "-f", mount["many"]);

        Assert.True(requests > 10, $"expected the listing to continue over many READDIR replies, saw {requests}");
        Assert.Equal(count, names.Count);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"file-{i:D5}-with-a-longer-name"), names);
        Assert.Equal(count + 2, ls.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    /// <summary>Both reader modes: one busy-polling reader that hands reads to the pool, and sleeping readers.</summary>
    [Theory]
    [InlineData(50)]
    [InlineData(0)]
    public async Task LargeFile_16MiB_RoundTripsWithOneMiBWrites(int busyPollMicroseconds)
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs, TestMount.DefaultOptions with { WritebackCache = false, BusyPoll = TimeSpan.FromMicroseconds(busyPollMicroseconds) });
        var content = new byte[16 * 1024 * 1024];
        new Random(16).NextBytes(content);

        await using (var stream = new FileStream(mount["big"], FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
            await stream.WriteAsync(content, TestContext.Current.CancellationToken);
        var back = await File.ReadAllBytesAsync(mount["big"], TestContext.Current.CancellationToken);

        Assert.Equal(1024 * 1024, fs.MaxWriteSize);
        Assert.Equal(16, fs.WriteCount);
        Assert.Equal(content.Length, back.Length);
        Assert.True(content.AsSpan().SequenceEqual(back));
    }

    /// <summary>
    /// The polling reader copies a 1 MiB WRITE itself (a hop to the pool per WRITE cost a thread wake-up on the writer's
    /// path); a handler that must wait answers later without holding it (see the volume's write bound).
    /// </summary>
    [Fact]
    public async Task OneMiBWrites_AreHandledOnThePollingReader()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs, TestMount.DefaultOptions with { WritebackCache = false, ReaderThreads = 1, BusyPoll = TimeSpan.FromMicroseconds(50) });
        var content = new byte[4 * 1024 * 1024];
        new Random(18).NextBytes(content);

        await using (var stream = new FileStream(mount["big"], FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
            await stream.WriteAsync(content, TestContext.Current.CancellationToken);

        Assert.Equal(1024 * 1024, fs.MaxWriteSize);
        Assert.Equal(["fuse-reader-0"], fs.WriteThreads);
        var back = await File.ReadAllBytesAsync(mount["big"], TestContext.Current.CancellationToken);
        Assert.True(content.AsSpan().SequenceEqual(back));
    }

    [Fact]
    public async Task LargeFile_WithWritebackCache_FlushesInOneMiBWrites()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);
        var content = new byte[16 * 1024 * 1024];
        new Random(17).NextBytes(content);

        await File.WriteAllBytesAsync(mount["big"], content, TestContext.Current.CancellationToken);
        await ProcessRunner.RunCheckedAsync("sync", mount["big"]);
        var back = await File.ReadAllBytesAsync(mount["big"], TestContext.Current.CancellationToken);

        Assert.Equal(1024 * 1024, fs.MaxWriteSize);
        Assert.True(content.AsSpan().SequenceEqual(back));
    }

    [Fact]
    public async Task Xattrs_SetGetListRemove_WithAttrTools()
    {
        FuseTestEnvironment.RequireProgram("setfattr");
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);
        await File.WriteAllTextAsync(mount["x"], "", TestContext.Current.CancellationToken);

        await ProcessRunner.RunCheckedAsync("setfattr", "-n", "user.colour", "-v", "blue", mount["x"]);
        await ProcessRunner.RunCheckedAsync("setfattr", "-n", "user.size", "-v", new string('s', 3000), mount["x"]);
        var one = await ProcessRunner.RunCheckedAsync("getfattr", "--only-values", "-n", "user.colour", mount["x"]);
        var all = await ProcessRunner.RunCheckedAsync("getfattr", "-d", mount["x"]);
        await ProcessRunner.RunCheckedAsync("setfattr", "-x", "user.colour", mount["x"]);
        var missing = await ProcessRunner.RunAsync("getfattr", "-n", "user.colour", mount["x"]);
        var after = await ProcessRunner.RunCheckedAsync("getfattr", "-d", mount["x"]);

        Assert.Equal("blue", one.StdOut);
        Assert.Contains("user.colour=\"blue\"", all.StdOut, StringComparison.Ordinal);
        Assert.Contains("user.size=\"" + new string('s', 3000) + "\"", all.StdOut, StringComparison.Ordinal);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("No such attribute", missing.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("user.colour", after.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StatFs_ReportsTheFilesystemNumbers()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);

        var df = await ProcessRunner.RunCheckedAsync("stat", "-f", "-c", "%S %b %f %l", mount.Path);

        Assert.Equal($"4096 {1 << 20} {1 << 19} 255", df.StdOut.Trim());
    }

    [Fact]
    public async Task ReaddirPlusLookups_AreGivenBackByForget()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);
        Directory.CreateDirectory(mount["d"]);
        for (int i = 0; i < 200; i++)
            await File.WriteAllBytesAsync(mount[$"d/f{i}"], [], TestContext.Current.CancellationToken);
        await ProcessRunner.RunCheckedAsync("ls", "-l", mount["d"]);
        ulong held = fs.TotalLookups;

        // Reclaiming dentries and inodes makes the kernel FORGET (in BATCH_FORGETs) everything not in use.
        await File.WriteAllTextAsync("/proc/sys/vm/drop_caches", "2", TestContext.Current.CancellationToken);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (fs.TotalLookups > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(50, TestContext.Current.CancellationToken);

        Assert.True(held >= 200, $"expected at least one lookup per entry, the kernel held {held}");
        Assert.Equal(0ul, fs.TotalLookups);
    }
}
