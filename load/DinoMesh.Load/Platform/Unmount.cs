namespace DinoMesh.Load.Platform;

/// <summary>Takes a FUSE mount down: fusermount3 -u, and a lazy umount when that fails (a busy or dead mount).</summary>
public static class Unmount
{
    /// <summary>Returns null when nothing is mounted at <paramref name="mountPoint"/> any more, else what went wrong.</summary>
    public static async Task<string?> RunAsync(string mountPoint)
    {
        if (!MountTable.IsFuseMounted(mountPoint)) return null;
        var timeout = TimeSpan.FromSeconds(15);
        var fuse = await ExternalProcess.RunAsync("fusermount3", ["-u", mountPoint], timeout, CancellationToken.None);
        if (!MountTable.IsFuseMounted(mountPoint)) return null;
        var lazy = await ExternalProcess.RunAsync("umount", ["-l", mountPoint], timeout, CancellationToken.None);
        if (!MountTable.IsFuseMounted(mountPoint)) return null;
        return $"still mounted: fusermount3 -u said '{fuse.StandardError.Trim()}', umount -l said '{lazy.StandardError.Trim()}'";
    }

    /// <summary>Polls the mount table until a FUSE mount appears, the daemon dies, or the timeout passes.</summary>
    public static async Task WaitForMountAsync(string mountPoint, Daemon daemon, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!MountTable.IsFuseMounted(mountPoint))
        {
            if (daemon.HasExited)
            {
                throw new InvalidOperationException(
                    $"the daemon exited with {daemon.ExitCode} before mounting {mountPoint}. Its output:\n{daemon.Output}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"no FUSE mount at {mountPoint} after {timeout.TotalSeconds:0} s. Daemon output:\n{daemon.Output}");
            }
            await Task.Delay(50, cancellationToken);
        }
    }
}
