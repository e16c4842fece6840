using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Targets;

/// <summary>
/// A target served by a FUSE daemon run in the foreground by the benchmark. Ready when /proc/self/mountinfo shows a
/// fuse mount at the mount point; torn down in an order the subclass chooses, and always left unmounted.
/// </summary>
public abstract class FuseDaemonTarget(string mountPoint, TargetTimeouts timeouts, string? logPath) : BenchTarget
{
    private Daemon? _daemon;
    private string? _stopNote;

    public override string Root => mountPoint;

    public override string? Problem => _daemon is { HasExited: true } d
        ? $"{Name} daemon exited with {d.ExitCode}. Its output:\n{d.Output}"
        : null;

    /// <summary>How the daemon ended, for the report; null while running.</summary>
    public string? StopNote => _stopNote;

    /// <summary>
    /// True to ask the daemon to unmount by itself on SIGTERM (dino-node's contract); false to unmount first and
    /// let the daemon exit because its mount went away (bindfs's normal life).
    /// </summary>
    protected abstract bool SignalFirst { get; }

    protected abstract string FileName { get; }

    protected abstract IEnumerable<string> Arguments { get; }

    /// <summary>Creates the directories the daemon needs before it starts.</summary>
    protected abstract void Prepare();

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (MountTable.IsFuseMounted(mountPoint)) throw new InvalidOperationException($"{mountPoint} is already a FUSE mount");
        Directory.CreateDirectory(mountPoint);
        Prepare();
        _daemon = Daemon.Start(FileName, Arguments, logPath);
        await Unmount.WaitForMountAsync(mountPoint, _daemon, timeouts.Mount, cancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        var notes = new List<string>();
        if (_daemon is not null)
        {
            if (SignalFirst)
            {
                notes.Add(await _daemon.StopAsync(timeouts.Stop));
                notes.Add(await Unmount.RunAsync(mountPoint) ?? "unmounted");
            }
            else
            {
                notes.Add(await Unmount.RunAsync(mountPoint) ?? "unmounted");
                notes.Add(await _daemon.WaitForExitAsync(timeouts.Stop)
                    ? $"exited with {_daemon.ExitCode}"
                    : await _daemon.StopAsync(timeouts.Stop));
            }
            await _daemon.DisposeAsync();
        }
        else
        {
            notes.Add(await Unmount.RunAsync(mountPoint) ?? "not started");
        }
        _stopNote = string.Join("; ", notes);
        GC.SuppressFinalize(this);
    }
}

/// <summary>How long to wait for a daemon to mount, and to exit after being asked to stop.</summary>
public sealed record TargetTimeouts(TimeSpan Mount, TimeSpan Stop);
