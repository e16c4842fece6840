using DinoMesh.Storage.Native;

namespace DinoMesh.Storage.Tests.Support;

/// <summary>A tmpfs mounted on a fresh temp directory (root only); unmounted and removed on Dispose.</summary>
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
    public static Tmpfs Mount(string size)
    {
        Commands.SkipUnlessAvailable(LibC.Geteuid() == 0, "mounting a tmpfs needs root");
        var directory = new TempDirectory();
        var tmpfs = new Tmpfs(directory);
        var (exitCode, output) = Commands.Run("mount", "-t", "tmpfs", "-o", $"size={size},mode=0755", "tmpfs", directory.Path);
        if (exitCode != 0)
        {
            directory.Dispose();
            Commands.SkipUnlessAvailable(false, $"mount -t tmpfs is not permitted here: {output}");
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
