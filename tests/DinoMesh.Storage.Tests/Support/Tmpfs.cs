using DinoMesh.Storage.Native;

namespace DinoMesh.Storage.Tests.Support;

/// <summary>A tmpfs (or ramfs) mounted on a fresh temp directory (root only); unmounted and removed on Dispose.</summary>
internal sealed class Tmpfs : IDisposable
{
    private readonly TempDirectory _mountPoint;
    private bool _mounted;

    private Tmpfs(TempDirectory mountPoint)
    {
        _mountPoint = mountPoint;
    }

    public string Path => _mountPoint.Path;

    /// <summary>Mounts a tmpfs of the given size (e.g. "1m"), or skips the test (fails it under CI=true).</summary>
    public static Tmpfs Mount(string size) => Mount("tmpfs", $"size={size},mode=0755");

    /// <summary>
    /// A ramfs instead (no size limit): a memory file system that refuses O_DIRECT (tmpfs takes it on current kernels).
    /// </summary>
    public static Tmpfs MountRamfs() => Mount("ramfs", "mode=0755");

    private static Tmpfs Mount(string type, string options)
    {
        Commands.SkipUnlessAvailable(LibC.Geteuid() == 0, $"mounting a {type} needs root");
        var directory = new TempDirectory();
        var tmpfs = new Tmpfs(directory);
        var (exitCode, output) = Commands.Run("mount", "-t", type, "-o", options, type, directory.Path);
        if (exitCode != 0)
        {
            directory.Dispose();
            Commands.SkipUnlessAvailable(false, $"mount -t {type} is not permitted here: {output}");
        }
        tmpfs._mounted = true;
        return tmpfs;
    }

    public void RemountReadOnly()
    {
        var (exitCode, output) = Commands.Run("mount", "-o", "remount,ro", Path);
        Assert.True(exitCode == 0, $"remount,ro failed: {output}");
    }

    public void Dispose()
    {
        if (_mounted)
        {
            var (exitCode, _) = Commands.Run("umount", Path);
            // A file still open somewhere keeps the mount busy; detach it lazily so nothing stays mounted.
            if (exitCode != 0) Commands.Run("umount", "-l", Path);
            _mounted = false;
        }
        _mountPoint.Dispose();
    }
}
