using DinoMesh.Fuse.Tests.Support;

namespace DinoMesh.Fuse.Tests.Mounted;

/// <summary>Mounting, unmounting from here and from outside, and each mount error.</summary>
public sealed class MountLifecycleTests
{
    private static readonly TimeSpan EndTimeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task UnmountAsync_EndsTheSessionAndTellsTheFilesystem()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);

        await mount.Mount.UnmountAsync().WaitAsync(EndTimeout, TestContext.Current.CancellationToken);

        Assert.True(mount.Mount.WaitForUnmountAsync().IsCompleted);
        Assert.True(fs.WasUnmounted);
        Assert.False(IsMounted(mount.Path));
    }

    [Fact]
    public async Task Mount_AsRoot_RaisesTheReadaheadOfItsBackingDevice()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs, TestMount.DefaultOptions with { ReadaheadKb = 768 });
        if (Environment.UserName != "root") Assert.Skip("raising a mount's readahead through sysfs needs root");

        var entry = DinoMesh.Fuse.Mounting.MountTable.Find(mount.Path);

        Assert.NotNull(entry);
        string setting = $"/sys/class/bdi/{entry.Major}:{entry.Minor}/read_ahead_kb";
        Assert.Equal("768", (await File.ReadAllTextAsync(setting, TestContext.Current.CancellationToken)).Trim());
    }

    [Fact]
    public async Task Mount_AsRoot_ByDefault_ReadsFourMiBAhead_SoAColdReaderHasFourReadsInFlight()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs, TestMount.DefaultOptions);
        if (Environment.UserName != "root") Assert.Skip("raising a mount's readahead through sysfs needs root");

        var entry = DinoMesh.Fuse.Mounting.MountTable.Find(mount.Path);

        Assert.NotNull(entry);
        string setting = $"/sys/class/bdi/{entry.Major}:{entry.Minor}/read_ahead_kb";
        Assert.Equal("4096", (await File.ReadAllTextAsync(setting, TestContext.Current.CancellationToken)).Trim());
    }

    [Theory]
    [InlineData(false, MountAtime.NoAtime, "noatime")]
    [InlineData(false, MountAtime.StrictAtime, null)]
    [InlineData(false, MountAtime.Relatime, "relatime")]
    [InlineData(true, MountAtime.NoAtime, "noatime")]
    public async Task Mount_CarriesTheSourceNameAndTheAtimeFlag(bool throughFusermount, MountAtime atime, string? shown)
    {
        if (throughFusermount) FuseTestEnvironment.RequireProgram("fusermount3");
        var fs = new MemoryFileSystem();
        var name = $"dinomesh-test-{Guid.NewGuid():N}"[..24];
        await using var mount = TestMount.Start(fs, TestMount.DefaultOptions with { FileSystemName = name, Atime = atime, UseFusermount = throughFusermount });

        var line = File.ReadAllLines("/proc/self/mountinfo").Single(l => l.Contains(" " + mount.Path + " ", StringComparison.Ordinal));
        var fields = line.Split(' ');
        var perMount = fields[5].Split(',');
        Assert.Equal(name, fields[Array.IndexOf(fields, "-") + 2]);
        foreach (var flag in new[] { "noatime", "relatime" })
            Assert.Equal(flag == shown, perMount.Contains(flag));
    }

    [Theory]
    [InlineData("umount")]
    [InlineData("fusermount3")]
    public async Task UnmountFromOutside_CompletesWaitForUnmount(string tool)
    {
        FuseTestEnvironment.RequireProgram(tool);
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);
        Assert.False(mount.Mount.WaitForUnmountAsync().IsCompleted);

        if (tool == "umount")
            await ProcessRunner.RunCheckedAsync("umount", mount.Path);
        else
            await ProcessRunner.RunCheckedAsync("fusermount3", "-u", mount.Path);
        await mount.Mount.WaitForUnmountAsync().WaitAsync(EndTimeout, TestContext.Current.CancellationToken);

        Assert.True(fs.WasUnmounted);
        Assert.False(IsMounted(mount.Path));
    }

    [Fact]
    public async Task UnmountAsync_WhileAFileIsOpen_DetachesLazilyAndEndsAfterClose()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);
        await File.WriteAllTextAsync(mount["held"], "still here", TestContext.Current.CancellationToken);
        var held = new FileStream(mount["held"], FileMode.Open, FileAccess.Read);
        try
        {
            var unmount = mount.Mount.UnmountAsync();
            await WaitUntil(() => !IsMounted(mount.Path));
            using var reader = new StreamReader(held, leaveOpen: true);
            string content = await reader.ReadToEndAsync(TestContext.Current.CancellationToken);
            bool endedWhileOpen = mount.Mount.WaitForUnmountAsync().IsCompleted;
            await held.DisposeAsync();
            await unmount.WaitAsync(EndTimeout, TestContext.Current.CancellationToken);

            Assert.Equal("still here", content);
            Assert.False(endedWhileOpen);
            Assert.True(mount.Mount.WaitForUnmountAsync().IsCompleted);
        }
        finally
        {
            await held.DisposeAsync();
        }
    }

    [Fact]
    public async Task Mount_ThroughFusermount3_Works()
    {
        FuseTestEnvironment.RequireProgram("fusermount3");
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs, TestMount.DefaultOptions with { UseFusermount = true });

        await File.WriteAllTextAsync(mount["via-helper"], "ok", TestContext.Current.CancellationToken);
        var line = File.ReadAllLines("/proc/self/mountinfo").Single(l => l.Contains(" " + mount.Path + " ", StringComparison.Ordinal));
        await mount.Mount.UnmountAsync().WaitAsync(EndTimeout, TestContext.Current.CancellationToken);

        Assert.Contains("fuse.dinomesh-test dinomesh-test", line, StringComparison.Ordinal);
        Assert.Equal("ok", System.Text.Encoding.UTF8.GetString(await ReadBack(fs, "via-helper")));
        Assert.True(fs.WasUnmounted);
        Assert.False(IsMounted(mount.Path));
    }

    [Fact]
    public void Mount_MissingDirectory_IsMountPointMissing()
    {
        FuseTestEnvironment.RequireMountable();
        string root = TestMount.CreateTempRoot();
        try
        {
            var e = Assert.Throws<FuseMountException>(() => FuseMount.Mount(Path.Combine(root, "nope"), new MemoryFileSystem(), TestMount.DefaultOptions, new TestLogger()));
            Assert.Equal(FuseMountError.MountPointMissing, e.Error);
            Assert.Contains(Path.Combine(root, "nope"), e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            TestMount.TryDelete(root);
        }
    }

    [Fact]
    public void Mount_OnAFile_IsNotADirectory()
    {
        FuseTestEnvironment.RequireMountable();
        string root = TestMount.CreateTempRoot();
        try
        {
            string file = Path.Combine(root, "file");
            File.WriteAllText(file, "");
            var e = Assert.Throws<FuseMountException>(() => FuseMount.Mount(file, new MemoryFileSystem(), TestMount.DefaultOptions, new TestLogger()));
            Assert.Equal(FuseMountError.NotADirectory, e.Error);
            Assert.Contains(file, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            TestMount.TryDelete(root);
        }
    }

    [Fact]
    public async Task Mount_OnAnExistingMount_IsAlreadyMounted()
    {
        var fs = new MemoryFileSystem();
        await using var mount = TestMount.Start(fs);

        var e = Assert.Throws<FuseMountException>(() => FuseMount.Mount(mount.Path, new MemoryFileSystem(), TestMount.DefaultOptions, new TestLogger()));

        Assert.Equal(FuseMountError.AlreadyMounted, e.Error);
        Assert.Contains(mount.Path, e.Message, StringComparison.Ordinal);
        Assert.True(IsMounted(mount.Path));
    }

    private static async Task<byte[]> ReadBack(MemoryFileSystem fs, string name)
    {
        var ctx = new FuseContext(0, 0, 0, 0, CancellationToken.None);
        ulong ino = fs.Resolve(name);
        var buffer = new byte[64];
        var read = await fs.ReadAsync(ctx, ino, 0, 0, buffer);
        return buffer[..read.Value];
    }

    private static bool IsMounted(string path) =>
        File.ReadAllLines("/proc/self/mountinfo").Any(l => l.Contains(" " + path + " ", StringComparison.Ordinal));

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + EndTimeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }
}
