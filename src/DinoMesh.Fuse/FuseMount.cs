using System.Globalization;
using DinoMesh.Fuse.Interop;
using DinoMesh.Fuse.Mounting;
using DinoMesh.Fuse.Session;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Fuse;

/// <summary>
/// A mounted FUSE filesystem. <see cref="Mount"/> returns once the kernel has completed INIT; the session then runs
/// on its own reader threads until the mount goes away (<see cref="UnmountAsync"/>, or <c>umount</c> /
/// <c>fusermount3 -u</c> from outside), which completes <see cref="WaitForUnmountAsync"/>.
/// </summary>
public sealed class FuseMount : IAsyncDisposable
{
    private readonly FuseSession _session;
    private readonly IMounter _mounter;
    private readonly MountEntry? _entry;
    private readonly ILogger _logger;
    private readonly FuseMountOptions _options;
    private int _unmountRequested;

    private FuseMount(string mountPoint, FuseSession session, IMounter mounter, MountEntry? entry, FuseConnectionInfo connection, FuseMountOptions options, ILogger logger)
    {
        MountPoint = mountPoint;
        _session = session;
        _mounter = mounter;
        _entry = entry;
        Connection = connection;
        _options = options;
        _logger = logger;
    }

    /// <summary>The canonical path mounted on.</summary>
    public string MountPoint { get; }

    /// <summary>Kernel cache invalidation for this mount.</summary>
    public IFuseNotifier Notifier => _session.Notifier;

    /// <summary>What INIT negotiated.</summary>
    public FuseConnectionInfo Connection { get; }

    /// <summary>
    /// Checks that <paramref name="mountPoint"/> can be mounted on (exists, is a directory, nothing mounted there, /dev/fuse
    /// present) without mounting, so a caller can fail before it opens anything else. Throws <see cref="FuseMountException"/>.
    /// With <paramref name="options"/>, a dead mount of the same filesystem type ("fuse." + <see cref="FuseMountOptions.SubType"/>)
    /// at the mount point, left by a process that crashed, is detached (with a warning) instead of refused, so a restart
    /// after a crash just works; a live mount, or one of another type, is still refused.
    /// </summary>
    public static string CheckMountPoint(string mountPoint, FuseMountOptions? options = null, ILogger? logger = null)
    {
        var resolved = Mounting.MountPointCheck.Resolve(mountPoint, options is null ? null : "fuse." + options.SubType, logger);
        if (!File.Exists(Mounting.MountPointCheck.DevicePath))
        {
            throw new FuseMountException(FuseMountError.DeviceMissing, Mounting.MountPointCheck.DevicePath,
                "/dev/fuse is missing: load the fuse module (modprobe fuse) or give the container the device");
        }
        return resolved;
    }

    /// <summary>
    /// Mounts <paramref name="fs"/> at <paramref name="mountPoint"/>: with mount(2) as root, through fusermount3
    /// otherwise (or when <see cref="FuseMountOptions.UseFusermount"/> is set). Throws <see cref="FuseMountException"/>.
    /// </summary>
    public static FuseMount Mount(string mountPoint, IFuseFileSystem fs, FuseMountOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(fs);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (options.MaxWrite < 1024 * 1024 || options.MaxWrite > 64 * 1024 * 1024)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxWrite, "MaxWrite must be between 1 MiB and 64 MiB.");
        if (options.ReaderThreads < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.ReaderThreads, "ReaderThreads must be at least 1.");
        if (options.FileSystemName.Contains(',', StringComparison.Ordinal) || options.SubType.Contains(',', StringComparison.Ordinal))
            throw new ArgumentException("FileSystemName and SubType must not contain commas.", nameof(options));

        string path = MountPointCheck.Resolve(mountPoint);
        IMounter mounter = options.UseFusermount || LibC.GetEuid() != 0 ? new FusermountMounter() : new KernelMounter();
        var handle = mounter.Mount(path, options);
        var entry = MountTable.Find(path);
        var session = new FuseSession(handle, fs, options, logger);
        session.Start();

        FuseConnectionInfo connection;
        try
        {
            if (!session.Initialized.Wait(options.StartTimeout))
                throw new TimeoutException($"no INIT within {options.StartTimeout.TotalSeconds} s");
            connection = session.Initialized.Result;
        }
        catch (Exception e)
        {
            mounter.Unmount(path);
            session.Completion.Wait(TimeSpan.FromSeconds(5));
            var reason = e is AggregateException { InnerException: { } inner } ? inner.Message : e.Message;
            throw new FuseMountException(FuseMountError.MountFailed, path,
                $"Cannot mount at '{path}': the kernel connection did not start ({reason}); see the log for the INIT exchange.", e);
        }
        logger.LogInformation("Mounted {FileSystem} at {MountPoint} ({Method})", options.FileSystemName, path,
            mounter is KernelMounter ? "mount(2)" : FusermountMounter.ProgramName);
        if (entry is not null && options.ReadaheadKb > 0) RaiseReadahead(entry, options.ReadaheadKb, logger);
        return new FuseMount(path, session, mounter, entry, connection, options, logger);
    }

    /// <summary>
    /// The kernel offers FUSE only its default readahead (128 KiB) in INIT and lets the reply lower it, never raise
    /// it; the mount's backing-device setting can be raised afterwards (root only). Sequential reads then arrive as
    /// fewer, larger READs that can be served in parallel. Best effort: without it reads still work.
    /// </summary>
    private static void RaiseReadahead(MountEntry entry, int readaheadKb, ILogger logger)
    {
        string setting = $"/sys/class/bdi/{entry.Major}:{entry.Minor}/read_ahead_kb";
        try
        {
            File.WriteAllText(setting, readaheadKb.ToString(System.Globalization.CultureInfo.InvariantCulture));
            logger.LogDebug("Readahead of the mount raised to {Kb} KiB ({Setting})", readaheadKb, setting);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogDebug("Readahead of the mount left at the kernel's default: {Setting}: {Error}", setting, e.Message);
        }
    }

    /// <summary>Completes when the session has ended (unmounted from here or from outside) and the filesystem was told.</summary>
    public Task WaitForUnmountAsync() => _session.Completion;

    /// <summary>
    /// Detaches the mount lazily (a busy mount leaves the namespace at once; the connection ends when the last open
    /// file is closed) and waits for the session to end. If it has not ended within
    /// <see cref="FuseMountOptions.UnmountTimeout"/>, the connection is aborted through fusectl when that is mounted.
    /// </summary>
    public async Task UnmountAsync()
    {
        if (Interlocked.Exchange(ref _unmountRequested, 1) == 0 && !_session.Completion.IsCompleted && IsStillOurs())
        {
            int errno = _mounter.Unmount(MountPoint);
            if (errno != 0)
                _logger.LogWarning("Unmounting {MountPoint} failed with errno {Errno}", MountPoint, errno);
        }
        try
        {
            await _session.Completion.WaitAsync(_options.UnmountTimeout);
            return;
        }
        catch (TimeoutException)
        {
        }
        if (AbortConnection())
            _logger.LogWarning("FUSE session at {MountPoint} did not end after unmount; aborted the connection", MountPoint);
        else
            _logger.LogWarning("FUSE session at {MountPoint} is still in use after unmount; it ends when the last open file is closed", MountPoint);
        try
        {
            await _session.Completion.WaitAsync(_options.UnmountTimeout);
        }
        catch (TimeoutException)
        {
        }
    }

    public ValueTask DisposeAsync() => new(UnmountAsync());

    /// <summary>Never detach a mount someone else has since put on the same directory.</summary>
    private bool IsStillOurs()
    {
        var current = MountTable.Find(MountPoint);
        return current is not null && (_entry is null || (current.Major == _entry.Major && current.Minor == _entry.Minor));
    }

    /// <summary>The connection's number (the mount's device number: its directory under /sys/fs/fuse/connections), if known.</summary>
    public uint? ConnectionId => _entry is null ? null : (_entry.Major << 20) | _entry.Minor;

    /// <summary>Writes to /sys/fs/fuse/connections/&lt;dev&gt;/abort, which fails every request and wakes the readers with ENODEV.</summary>
    private bool AbortConnection()
    {
        if (ConnectionId is not { } device)
            return false;
        var abort = $"/sys/fs/fuse/connections/{device.ToString(CultureInfo.InvariantCulture)}/abort";
        try
        {
            if (!File.Exists(abort))
                return false;
            File.WriteAllText(abort, "1");
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
