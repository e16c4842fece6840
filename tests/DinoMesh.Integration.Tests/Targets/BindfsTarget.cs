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

    public override string? Lacks(Feature feature) => feature switch
    {
        // libfuse's high-level API (which bindfs uses) numbers inodes per mount unless use_ino is set,
        // and bindfs itself does not promise stable numbers; checked across restarts only for dino-node.
        Feature.StableInodesAcrossRestart => null,
        _ => base.Lacks(feature),
    };

    protected override DaemonProcess LaunchDaemon() =>
        DaemonProcess.Start("bindfs", ["-f", "-o", "default_permissions", BackingDir, MountPoint], LogPath);
}
