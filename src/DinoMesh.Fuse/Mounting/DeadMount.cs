using DinoMesh.Fuse.Interop;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Fuse.Mounting;

/// <summary>
/// The mount a crashed daemon leaves behind: still in the mount table, its connection gone, every call on it answering
/// ENOTCONN. Only a mount of our own filesystem type that answers ENOTCONN is taken for dead and detached; a mount that
/// answers (a running node), hangs (a stuck one) or is of another type is left alone and refused as before.
/// </summary>
internal static class DeadMount
{
    /// <summary>How long the probe waits: a live but stuck FUSE daemon never answers, and must not hang our start.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Stacked dead mounts (several crashes in a row without a restart in between) are detached one by one.</summary>
    private const int MaxDetached = 8;

    /// <summary>
    /// While the topmost mount at <paramref name="path"/> is a dead mount of <paramref name="fileSystemType"/>,
    /// detaches it (umount2 MNT_DETACH as root, fusermount3 -u -z otherwise) and logs a warning. Returns what is
    /// mounted there afterwards (null when nothing).
    /// </summary>
    public static MountEntry? Clear(string path, MountEntry? existing, string fileSystemType, ILogger? logger)
    {
        for (int i = 0; i < MaxDetached && existing is not null && existing.FileSystemType == fileSystemType; i++)
        {
            if (Probe(path) != Errno.ENOTCONN) return existing;
            IMounter mounter = LibC.GetEuid() == 0 ? new KernelMounter() : new FusermountMounter();
            int errno = mounter.Unmount(path);
            if (errno != 0)
            {
                throw new FuseMountException(FuseMountError.AlreadyMounted, path,
                    $"Cannot mount at '{path}': a dead {fileSystemType} mount of a crashed node is attached there and detaching it failed (errno {errno}); run 'umount -l {path}' (or 'fusermount3 -u -z {path}') first.");
            }
            logger?.LogWarning("{MountPoint}: detached the dead {Type} mount of a node that did not stop cleanly (its connection answered ENOTCONN)", path, fileSystemType);
            existing = MountTable.Find(path);
        }
        return existing;
    }

    /// <summary>The errno of a stat of the mount's root that bypasses cached attributes (0 when it answers), or -1 when it does not answer in time.</summary>
    private static int Probe(string path)
    {
        var probe = Task.Factory.StartNew(() => LibC.StatForced(path), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        // A probe stuck in the kernel keeps its thread; the process is about to refuse and exit anyway.
        return probe.Wait(ProbeTimeout) ? probe.Result : -1;
    }
}
