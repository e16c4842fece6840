namespace DinoMesh.Fuse;

/// <summary>What INIT settled with the kernel for one mount.</summary>
public sealed record FuseConnectionInfo(
    uint KernelMajor,
    uint KernelMinor,
    uint ProtocolMinor,
    ulong KernelFlags,
    ulong Flags,
    uint MaxWrite,
    uint MaxReadahead,
    ushort MaxPages,
    ushort MaxBackground,
    ushort CongestionThreshold)
{
    /// <summary>The kernel caches writes and owns file size and mtime while it holds the inode (FUSE_WRITEBACK_CACHE).</summary>
    public bool WritebackCache => (Flags & (1UL << 16)) != 0;

    /// <summary>The kernel sends READDIRPLUS (FUSE_DO_READDIRPLUS).</summary>
    public bool ReaddirPlus => (Flags & (1UL << 13)) != 0;

    /// <summary>The kernel enforces POSIX ACLs stored in system.posix_acl_* xattrs (FUSE_POSIX_ACL).</summary>
    public bool PosixAcl => (Flags & (1UL << 20)) != 0;

    /// <summary>SETXATTR carries the extended header with setxattr_flags (FUSE_SETXATTR_EXT).</summary>
    public bool SetXattrExt => (Flags & (1UL << 29)) != 0;

    /// <summary>Names of the negotiated flags, for logs.</summary>
    public string FlagNames => Protocol.InitNegotiation.Describe(Flags);
}
