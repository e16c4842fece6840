namespace DinoMesh.Fuse.Protocol;

/// <summary>
/// INIT as a pure function: what the kernel offers plus our options give the fuse_init_out to send and the
/// settings the session then runs with.
/// </summary>
internal static class InitNegotiation
{
    public const uint Major = 7;

    /// <summary>The minor whose layouts Protocol/ implements (linux/fuse.h 7.38). The kernel accepts a lower minor than its own.</summary>
    public const uint SupportedMinor = 38;

    /// <summary>Below 7.23 fuse_init_out was shorter; nothing that old is worth the compat paths.</summary>
    public const uint MinimumMinor = 23;

    public const int PageSize = 4096;

    /// <summary>
    /// Asked for whenever the kernel offers it. Deliberately absent: AUTO_INVAL_DATA (we invalidate explicitly with
    /// notifications), HANDLE_KILLPRIV (v1: the filesystem would have to clear set-id bits even for writers with
    /// CAP_FSETID, and every write would still cost a GETXATTR; v2 is an option, below), SPLICE_* (no splice path),
    /// POSIX/FLOCK locks (the kernel keeps local locks itself), SECURITY_CTX and CREATE_SUPP_GROUP (they add request
    /// extensions we do not use).
    /// </summary>
    private const InitFlags Always =
        InitFlags.AsyncRead | InitFlags.AtomicOTrunc | InitFlags.BigWrites | InitFlags.DontMask |
        InitFlags.DoReaddirplus | InitFlags.ReaddirplusAuto | InitFlags.AsyncDio | InitFlags.ParallelDirops |
        InitFlags.MaxPages | InitFlags.CacheSymlinks | InitFlags.ExportSupport | InitFlags.SetxattrExt | InitFlags.InitExt;

    public static InitFlags Wanted(FuseMountOptions options)
    {
        var wanted = Always;
        if (options.WritebackCache)
            wanted |= InitFlags.WritebackCache;
        if (options.PosixAcl)
            wanted |= InitFlags.PosixAcl;
        // The filesystem clears set-id bits and capabilities itself, so the kernel stops asking for security.capability
        // before every write(2): after the first write to an inode it marks it S_NOSEC (benchmarks.md,
        // "FUSE_HANDLE_KILLPRIV_V2 on, one request per small write").
        if (options.HandleKillPriv)
            wanted |= InitFlags.HandleKillprivV2;
        return wanted;
    }

    /// <summary>The kernel's offer: flags2 counts only when the kernel set FUSE_INIT_EXT.</summary>
    public static InitFlags Offered(in FuseInitIn init)
    {
        var flags = (InitFlags)init.Flags;
        if ((flags & InitFlags.InitExt) != 0)
            flags |= (InitFlags)((ulong)init.Flags2 << 32);
        return flags;
    }

    /// <summary>Returns the reply, or an errno when the kernel's version is unusable.</summary>
    public static (int Errno, FuseInitOut Reply, FuseConnectionInfo? Info) Negotiate(in FuseInitIn init, FuseMountOptions options)
    {
        if (init.Major > Major)
        {
            // The kernel will send INIT again with our major after seeing it in the reply.
            return (0, new FuseInitOut { Major = Major, Minor = SupportedMinor }, null);
        }
        if (init.Major < Major || init.Minor < MinimumMinor)
            return (Errno.EPROTO, default, null);

        uint minor = Math.Min(init.Minor, SupportedMinor);
        var offered = Offered(init);
        var flags = Wanted(options) & offered;
        uint maxWrite = options.MaxWrite;
        ushort maxPages = (ushort)Math.Min(ushort.MaxValue, (maxWrite + PageSize - 1) / PageSize);
        uint maxReadahead = Math.Min(init.MaxReadahead, maxWrite);
        const ushort maxBackground = 64;
        const ushort congestion = maxBackground * 3 / 4;

        var reply = new FuseInitOut
        {
            Major = Major,
            Minor = minor,
            MaxReadahead = maxReadahead,
            Flags = (uint)((ulong)flags & 0xFFFF_FFFF),
            Flags2 = (uint)((ulong)flags >> 32),
            MaxBackground = maxBackground,
            CongestionThreshold = congestion,
            MaxWrite = maxWrite,
            TimeGran = 1,
            MaxPages = (flags & InitFlags.MaxPages) != 0 ? maxPages : (ushort)0,
        };
        var info = new FuseConnectionInfo(
            init.Major, init.Minor, minor, (ulong)offered, (ulong)flags, maxWrite, maxReadahead,
            reply.MaxPages, maxBackground, congestion);
        return (0, reply, info);
    }

    public static string Describe(ulong flags)
    {
        var names = new List<string>();
        for (int bit = 0; bit < 64; bit++)
        {
            ulong mask = 1UL << bit;
            if ((flags & mask) == 0)
                continue;
            var name = Enum.GetName((InitFlags)mask);
            names.Add(name ?? $"bit{bit}");
        }
        return string.Join(',', names);
    }
}
