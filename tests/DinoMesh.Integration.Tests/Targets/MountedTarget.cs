using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Targets;

/// <summary>
/// A FUSE file system served by a daemon process: started, stopped, restarted and crashed by the
/// tests. Layout of its temp directory: <c>mnt/</c> (mount point), a data directory chosen by the
/// subclass, and <c>daemon.log</c> with everything every incarnation of the daemon printed.
/// </summary>
public abstract class MountedTarget : FileSystemTarget
{
    public static readonly TimeSpan MountTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);

    private DaemonProcess? _daemon;

    protected MountedTarget(string prefix)
    {
        if (!File.Exists("/dev/fuse"))
        {
            throw new TargetUnavailableException("/dev/fuse does not exist: FUSE is not available on this machine");
        }
        if (!Requirement.IsRoot)
        {
            throw new TargetUnavailableException("the FUSE targets need root (mount, allow_other, chown and setpriv to uid 65534)");
        }
        TempDir = MakeTempRoot(prefix);
        MountPoint = Path.Combine(TempDir, "mnt");
        LogPath = Path.Combine(TempDir, "daemon.log");
        Directory.CreateDirectory(MountPoint);
    }

    public string TempDir { get; }

    public string MountPoint { get; }

    public string LogPath { get; }

    public override string Root => MountPoint;

    public override int? DaemonPid => _daemon is { HasExited: false } d ? d.Pid : null;

    public override string? Lacks(Feature feature) => feature == Feature.Daemon ? null : base.Lacks(feature);

    /// <summary>The running daemon (null before Start and after Stop).</summary>
    public DaemonProcess? Daemon => _daemon;

    /// <summary>Starts the daemon and waits (bounded) until the kernel lists a FUSE mount at <see cref="MountPoint"/>.</summary>
    public void Start()
    {
        if (_daemon is not null)
        {
            throw new InvalidOperationException($"{Name} is already running");
        }
        var daemon = LaunchDaemon();
        _daemon = daemon;
        if (!MountTable.WaitForFuseMount(MountPoint, MountTimeout, () => daemon.HasExited))
        {
            var exit = daemon.HasExited ? $"it exited with code {daemon.WaitForExit(TimeSpan.Zero)}" : "it is still running";
            StopDaemon();
            throw new InvalidOperationException(
                $"{Name} did not mount {MountPoint} within {MountTimeout.TotalSeconds:F0} s ({exit}).\n{Diagnostics()}");
        }
        daemon.Note("mount is live");
    }

    /// <summary>SIGTERM, wait up to 15 s, SIGKILL; then lazily unmounts if the daemon left the mount behind. Returns the clean exit code, if any.</summary>
    public int? Stop()
    {
        var code = StopDaemon();
        MountTable.LazyUnmount(MountPoint);
        return code;
    }

    /// <summary>Graceful stop and a new start over the same mount point and data.</summary>
    public void Restart()
    {
        Stop();
        Start();
    }

    /// <summary>
    /// Crashes the daemon with SIGKILL, then lazily unmounts the dead mount as an operator would
    /// (a dead FUSE connection answers ENOTCONN until then), so <see cref="Start"/> can mount again.
    /// </summary>
    public void Kill9()
    {
        if (_daemon is { } d)
        {
            d.Note("test sends SIGKILL");
            d.Kill9();
            d.Dispose();
            _daemon = null;
        }
        MountTable.LazyUnmount(MountPoint);
    }

    /// <summary>Forgets a daemon that the test saw exit on its own (e.g. after an outside unmount), returning its exit code.</summary>
    public int? WaitForDaemonExit(TimeSpan timeout)
    {
        var code = _daemon?.WaitForExit(timeout);
        if (code is not null)
        {
            _daemon!.Dispose();
            _daemon = null;
        }
        return code;
    }

    public override string Diagnostics()
    {
        try
        {
            var text = File.Exists(LogPath) ? File.ReadAllText(LogPath) : "(no log)";
            if (text.Length > 20000)
            {
                text = "...\n" + text[^20000..];
            }
            return $"--- {Name} log {LogPath} ---\n{text}";
        }
        catch (IOException e)
        {
            return $"(cannot read {LogPath}: {e.Message})";
        }
    }

    /// <summary>Starts the daemon process; it must mount <see cref="MountPoint"/> and write its output to <see cref="LogPath"/>.</summary>
    protected abstract DaemonProcess LaunchDaemon();

    private int? StopDaemon()
    {
        if (_daemon is not { } d)
        {
            return null;
        }
        d.Note("test sends SIGTERM");
        var code = d.Terminate(StopGrace);
        d.Note(code is null ? "killed" : $"exited with code {code}");
        d.Dispose();
        _daemon = null;
        return code;
    }

    public override void Dispose()
    {
        try
        {
            StopDaemon();
        }
        finally
        {
            MountTable.LazyUnmount(MountPoint);
            if (MountTable.FsTypeAt(MountPoint) is null)
            {
                DeleteTree(TempDir);
            }
            else
            {
                Console.Error.WriteLine($"{MountPoint} is still mounted; leaving {TempDir} in place rather than deleting through it");
            }
        }
        GC.SuppressFinalize(this);
    }
}
