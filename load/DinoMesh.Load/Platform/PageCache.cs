namespace DinoMesh.Load.Platform;

/// <summary>
/// Flushes dirty pages and drops the kernel's page, dentry and inode caches so the next read comes from the
/// file system rather than memory. Needs root; without it the caller is told and a "cold" read is not cold.
/// </summary>
public static class PageCache
{
    private const string DropCachesPath = "/proc/sys/vm/drop_caches";

    /// <summary>Runs sync(1) then writes 3 to drop_caches. Returns null on success, else why it could not.</summary>
    public static async Task<string?> DropAsync(CancellationToken cancellationToken)
    {
        var sync = await ExternalProcess.RunAsync("sync", [], TimeSpan.FromMinutes(5), cancellationToken);
        if (!sync.Succeeded) return $"sync failed (exit {sync.ExitCode}{(sync.TimedOut ? ", timed out" : "")})";
        try
        {
            await File.WriteAllTextAsync(DropCachesPath, "3\n", cancellationToken);
            return null;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return $"cannot write {DropCachesPath} ({e.Message}); run as root for cold reads";
        }
    }
}
