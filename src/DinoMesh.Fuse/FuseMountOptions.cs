namespace DinoMesh.Fuse;

/// <summary>The access-time flag of a mount, as mount(8) knows it.</summary>
public enum MountAtime
{
    /// <summary>Linux's default: atime moves on a read when it is not newer than mtime or ctime, or is a day old.</summary>
    Relatime,
    /// <summary>Reads never move atime.</summary>
    NoAtime,
    /// <summary>Every read moves atime.</summary>
    StrictAtime,
}

/// <summary>How to mount. Defaults follow DESIGN: allow_other + default_permissions, big writes, writeback cache.</summary>
public sealed record FuseMountOptions
{
    /// <summary>The mount's source, as mount(8), findmnt and df show it ("fsname"). No commas.</summary>
    public string FileSystemName { get; init; } = "dinomesh";
    public string SubType { get; init; } = "dinomesh";
    public bool AllowOther { get; init; } = true;
    public bool DefaultPermissions { get; init; } = true;
    public bool WritebackCache { get; init; } = true;
    public bool PosixAcl { get; init; } = true;

    /// <summary>
    /// FUSE_HANDLE_KILLPRIV_V2: the filesystem, not the kernel, clears set-id bits and the <c>security.capability</c>
    /// xattr when a file is written, truncated or chowned (WRITE with <see cref="FuseWriteFlags.KillSuidGid"/>, SETATTR
    /// with <see cref="SetAttrValid.KillSuidGid"/>, OPEN/CREATE with <see cref="FuseOpenFlags.KillSuidGid"/>; the
    /// capability on every write, truncate and chown). In return the kernel asks for <c>security.capability</c> only
    /// before the first write to an inode instead of before every write(2). Off by default: a filesystem that turns it on
    /// takes over a security duty, and one that ignores the flags would keep setuid bits that Linux drops.
    /// </summary>
    public bool HandleKillPriv { get; init; }

    /// <summary>
    /// The atime flag the mount carries (MS_NOATIME / MS_RELATIME / MS_STRICTATIME). The kernel never updates atime of a
    /// FUSE file itself (FUSE inodes are S_NOATIME); the flag says what the filesystem does, and mount(8) shows it.
    /// </summary>
    public MountAtime Atime { get; init; } = MountAtime.Relatime;
    /// <summary>Largest WRITE payload the kernel may send (max_write). At least 1 MiB.</summary>
    public uint MaxWrite { get; init; } = 1024 * 1024;
    /// <summary>Number of threads reading /dev/fuse in blocking mode (<see cref="BusyPoll"/> zero).</summary>
    public int ReaderThreads { get; init; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>
    /// Polling mode: one reader keeps re-reading the device for this long after each request before it sleeps, and
    /// hands requests that may block to the thread pool. A program making one call after another then skips a
    /// thread wake-up per request, at the cost of up to this much CPU after each burst. TimeSpan.Zero: blocking
    /// mode with <see cref="ReaderThreads"/> readers.
    /// </summary>
    public TimeSpan BusyPoll { get; init; } = TimeSpan.FromMicroseconds(50);

    /// <summary>
    /// Readahead of the mount in KiB, set through sysfs after mounting when permitted (0: kernel default). With reads
    /// of max_pages (1 MiB) a window of 1 MiB keeps one READ ahead of the reader, and a cold read then waits for each
    /// READ's disk request and reply copy in turn; 4 MiB keeps about four in flight, so the daemon's threads overlap
    /// them (docs/benchmarks.md, "Local cold read: four READs in flight").
    /// </summary>
    public int ReadaheadKb { get; init; } = 4096;

    /// <summary>Mount through fusermount3 even as root (the path an unprivileged user takes; used to test it).</summary>
    public bool UseFusermount { get; init; }

    /// <summary>How long <see cref="FuseMount.Mount"/> waits for the kernel's INIT after mounting.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long UnmountAsync waits for the session to end before aborting the connection (and once more after).</summary>
    public TimeSpan UnmountTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
