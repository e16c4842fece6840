namespace DinoMesh.Node.Tests.Cluster;

/// <summary>
/// A small tmpfs mounted as a node's data directory before the node starts, to give it a chunk disk that really fills
/// up. Needs root and mount(2): without them the test is skipped, and fails under CI=true. Dispose after the cluster
/// (whose teardown kills the node): unmounted, lazily if something still holds it.
/// </summary>
public sealed class DataDirTmpfs : IDisposable
{
    private DataDirTmpfs(string path) => Path = path;

    public string Path { get; }

    public static DataDirTmpfs MountAt(string dataDir, int megabytes)
    {
        Directory.CreateDirectory(dataDir);
        var mounted = Tool.TryRun("mount", ["-t", "tmpfs", "-o", $"size={megabytes}m,mode=0700", "tmpfs", dataDir], TimeSpan.FromSeconds(15));
        if (mounted.ExitCode != 0) Requirement.Unavailable($"cannot mount a tmpfs at {dataDir}: {mounted}");
        return new DataDirTmpfs(dataDir);
    }

    /// <summary>Bytes free on the tmpfs.</summary>
    public long FreeBytes() => new DriveInfo(Path).AvailableFreeSpace;

    public void Dispose()
    {
        if (MountTable.FsTypeAt(Path) is not null && Tool.TryRun("umount", [Path], TimeSpan.FromSeconds(15)).ExitCode != 0)
        {
            MountTable.LazyUnmount(Path);
        }
    }
}
