using DinoMesh.Fuse.Interop;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Fuse.Mounting;

/// <summary>Checks a mount point before anything is opened or mounted, so each failure gets its own actionable message.</summary>
internal static class MountPointCheck
{
    public const string DevicePath = "/dev/fuse";

    /// <summary>
    /// Returns the canonical path (symlinks resolved, as mountinfo shows it) or throws <see cref="FuseMountException"/>.
    /// With <paramref name="clearDeadOfType"/>, a dead mount of that filesystem type at the path (a crashed node's) is
    /// detached first instead of being refused.
    /// </summary>
    public static string Resolve(string mountPoint, string? clearDeadOfType = null, ILogger? logger = null)
    {
        string full = Path.GetFullPath(mountPoint);
        if (full.Length > 1)
            full = full.TrimEnd('/');

        // Before touching the path: a dead FUSE mount answers ENOTCONN to every stat.
        var existing = MountTable.Find(full);
        if (existing is not null && clearDeadOfType is not null)
            existing = DeadMount.Clear(full, existing, clearDeadOfType, logger);
        if (existing is not null)
            throw AlreadyMounted(full, existing);

        string? resolved = LibC.ResolvePath(full, out int errno);
        if (resolved is null)
        {
            throw errno switch
            {
                Errno.ENOENT => new FuseMountException(FuseMountError.MountPointMissing, full,
                    $"Cannot mount at '{full}': the directory does not exist; create it (mkdir -p '{full}') or choose another mount point."),
                Errno.ENOTDIR => new FuseMountException(FuseMountError.NotADirectory, full,
                    $"Cannot mount at '{full}': a component of the path is not a directory; choose a directory as mount point."),
                Errno.ENOTCONN => new FuseMountException(FuseMountError.AlreadyMounted, full,
                    $"Cannot mount at '{full}': a dead FUSE mount is still attached there; run 'fusermount3 -u -z {full}' (or 'umount -l {full}') first."),
                Errno.EACCES => new FuseMountException(FuseMountError.PermissionDenied, full,
                    $"Cannot mount at '{full}': permission denied while resolving the path; check the permissions of its parent directories."),
                _ => new FuseMountException(FuseMountError.MountFailed, full,
                    $"Cannot mount at '{full}': resolving the path failed with errno {errno}."),
            };
        }

        if (!Directory.Exists(resolved))
        {
            throw new FuseMountException(FuseMountError.NotADirectory, full,
                $"Cannot mount at '{full}': it is a file, not a directory; choose an (empty) directory as mount point.");
        }
        if (resolved != full && MountTable.Find(resolved) is { } existingResolved)
            throw AlreadyMounted(full, existingResolved);
        if (!File.Exists(DevicePath))
        {
            throw new FuseMountException(FuseMountError.DeviceMissing, full,
                $"Cannot mount at '{full}': {DevicePath} does not exist; load the fuse module (modprobe fuse) or run the container with --device /dev/fuse.");
        }
        return resolved;
    }

    private static FuseMountException AlreadyMounted(string path, MountEntry existing) =>
        new(FuseMountError.AlreadyMounted, path,
            $"Cannot mount at '{path}': '{existing.Source}' ({existing.FileSystemType}) is already mounted there; unmount it first (umount '{path}' or fusermount3 -u '{path}').");
}
