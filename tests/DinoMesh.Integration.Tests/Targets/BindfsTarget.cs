using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Targets;

/// <summary>
/// A local directory mirrored through bindfs: a real FUSE mount available today, mounted like
/// dino-node mounts (allow_other, default_permissions) so the suite itself can be validated
/// against FUSE before the daemon exists.
/// </summary>
public sealed class BindfsTarget : MountedTarget
{
    private BindfsTarget()
        : base("dinomesh-bindfs-")
    {
        BackingDir = Path.Combine(TempDir, "backing");
        Directory.CreateDirectory(BackingDir);
        File.SetUnixFileMode(BackingDir, (UnixFileMode)0x1ED);
    }

    public string BackingDir { get; }

    public override string Name => "bindfs";

    /// <summary>Creates the target and (unless told otherwise) mounts it; throws <see cref="TargetUnavailableException"/> when bindfs is not installed.</summary>
    public static BindfsTarget Mount(bool mount = true)
    {
        if (Requirement.Which("bindfs") is null)
        {
            throw new TargetUnavailableException("bindfs is not installed (run scripts/install-deps.sh as root)");
        }
        var target = new BindfsTarget();
        try
        {
            if (mount)
            {
                target.Start();
            }
            return target;
        }
        catch
        {
            target.Dispose();
            throw;
        }
    }

    /// <summary>What bindfs 1.14 cannot do, found by running this suite against it; none of these excuses dino-node.</summary>
    public override string? Lacks(Feature feature) => feature switch
    {
        Feature.RenameFlags => "bindfs 1.14 answers EINVAL to renameat2 with RENAME_NOREPLACE or RENAME_EXCHANGE",
        Feature.HardLinksShareOneInode =>
            "bindfs uses libfuse's path-based API, which gives each name of a hard-linked file its own kernel inode, so the other names keep a stale nlink and ctime",
        Feature.PosixAcl =>
            "bindfs does not negotiate FUSE_POSIX_ACL, so with default_permissions the kernel checks only the mode bits and ACL entries grant nothing",
        Feature.UtimeOmit => "bindfs 1.14 ignores utimensat when one of the two times is UTIME_OMIT (touch -m, tar -x)",
        Feature.Fallocate => "bindfs 1.14 does not implement fallocate (ENOTSUP)",
        Feature.OpenUnlinkedDirectories =>
            "bindfs uses libfuse's path-based API: once a directory's name is gone it has no path to stat, and fstat on an open descriptor fails",
        Feature.SeekHoles => "bindfs 1.14 does not implement lseek, so the kernel reports the whole file as data",
        _ => base.Lacks(feature),
    };

    protected override DaemonProcess LaunchDaemon() =>
        DaemonProcess.Start("bindfs", ["-f", "-o", "default_permissions", BackingDir, MountPoint], LogPath);
}
