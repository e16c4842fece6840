using DinoMesh.Load.Platform;
using DinoMesh.Load.Targets;

namespace DinoMesh.Load.Tests;

public sealed class TargetTests : IDisposable
{
    private static readonly TargetTimeouts Timeouts = new(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(10));
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dino-load-test-");

    [Fact]
    public async Task Bindfs_target_mounts_passes_files_through_and_unmounts()
    {
        FuseEnvironment.Require();
        var source = Path.Combine(_temp.FullName, "src");
        var mount = Path.Combine(_temp.FullName, "mnt");
        var target = new BindfsTarget(source, mount, Timeouts, logPath: null);
        try
        {
            await target.StartAsync(TestContext.Current.CancellationToken);
            Assert.True(MountTable.IsFuseMounted(mount));

            await File.WriteAllTextAsync(Path.Combine(mount, "hello"), "through fuse", TestContext.Current.CancellationToken);
            Assert.Equal("through fuse", await File.ReadAllTextAsync(Path.Combine(source, "hello"), TestContext.Current.CancellationToken));
        }
        finally
        {
            await target.DisposeAsync();
        }
        Assert.False(MountTable.IsFuseMounted(mount));
        Assert.Contains("exited", target.StopNote, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dino_target_reports_a_daemon_that_dies_before_mounting()
    {
        var target = new DinoNodeTarget(Path.Combine(_temp.FullName, "missing.dll"), Path.Combine(_temp.FullName, "mnt"),
            Path.Combine(_temp.FullName, "data"), Timeouts, logPath: null);
        try
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => target.StartAsync(TestContext.Current.CancellationToken));
            Assert.Contains("exited", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            await target.DisposeAsync();
        }
        Assert.Contains("already exited", target.StopNote, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        foreach (var mount in MountTable.Read().Where(m => m.MountPoint.StartsWith(_temp.FullName, StringComparison.Ordinal)))
        {
            Unmount.RunAsync(mount.MountPoint).GetAwaiter().GetResult();
        }
        _temp.Delete(recursive: true);
    }
}
