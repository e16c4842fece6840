namespace DinoMesh.Fuse;

/// <summary>Who is asking. Comes from the FUSE request header. <see cref="Cancellation"/> fires on FUSE_INTERRUPT.</summary>
public readonly record struct FuseContext(uint Uid, uint Gid, uint Pid, ulong Unique, CancellationToken Cancellation);

/// <summary>The fields of the kernel's fuse_attr. Times are seconds + nanoseconds since the epoch.</summary>
public record struct FileAttributes
{
    public ulong Ino;
    public ulong Size;
    public ulong Blocks;        // 512-byte units actually allocated
    public long ATimeSec;
    public uint ATimeNsec;
    public long MTimeSec;
    public uint MTimeNsec;
    public long CTimeSec;
    public uint CTimeNsec;
    public uint Mode;           // type bits | permission bits, as st_mode
    public uint NLink;
    public uint Uid;
    public uint Gid;
    public uint RDev;
    public uint BlkSize;
}

/// <summary>Answer to LOOKUP/MKNOD/MKDIR/SYMLINK/LINK/CREATE. NodeId is the inode number (stable, never reused while the kernel may remember it).</summary>
public readonly record struct EntryReply(ulong NodeId, ulong Generation, FileAttributes Attributes, TimeSpan EntryTimeout, TimeSpan AttrTimeout);

public readonly record struct AttrReply(FileAttributes Attributes, TimeSpan AttrTimeout);

[Flags]
public enum OpenReplyFlags : uint
{
    None = 0,
    DirectIo = 1 << 0,      // FOPEN_DIRECT_IO
    KeepCache = 1 << 1,     // FOPEN_KEEP_CACHE: content unchanged since the page cache was filled
    NonSeekable = 1 << 2,
    CacheDir = 1 << 3,
    Stream = 1 << 4,
    NoFlush = 1 << 5,
    ParallelDirectWrites = 1 << 6,
}

public readonly record struct OpenReply(ulong FileHandle, OpenReplyFlags Flags);

public readonly record struct CreateReply(EntryReply Entry, OpenReply Open);

/// <summary>Which fields of a SETATTR are present (FATTR_* bits from linux/fuse.h).</summary>
[Flags]
public enum SetAttrValid : uint
{
    None = 0,
    Mode = 1 << 0,
    Uid = 1 << 1,
    Gid = 1 << 2,
    Size = 1 << 3,
    ATime = 1 << 4,
    MTime = 1 << 5,
    Fh = 1 << 6,
    ATimeNow = 1 << 7,
    MTimeNow = 1 << 8,
    LockOwner = 1 << 9,
    CTime = 1 << 10,
    /// <summary>
    /// FATTR_KILL_SUIDGID: drop setuid, and setgid when the group may execute. With
    /// <see cref="FuseMountOptions.HandleKillPriv"/> it comes with every chown of a non-directory and with a truncate by a
    /// caller without CAP_FSETID.
    /// </summary>
    KillSuidGid = 1 << 11,
}

/// <summary>Bits of a WRITE's write flags (FUSE_WRITE_* in linux/fuse.h).</summary>
public static class FuseWriteFlags
{
    /// <summary>Written back from the page cache (writeback cache), not by a write(2) waiting for it.</summary>
    public const uint Cache = 1 << 0;
    public const uint LockOwner = 1 << 1;
    /// <summary>
    /// FUSE_WRITE_KILL_SUIDGID: the writer lacks CAP_FSETID, so the write drops setuid, and setgid when the group may
    /// execute. Sent only with <see cref="FuseMountOptions.HandleKillPriv"/>.
    /// </summary>
    public const uint KillSuidGid = 1 << 2;
}

/// <summary>Bits of OPEN's and CREATE's open flags (FUSE_OPEN_* in linux/fuse.h, not the open(2) flags).</summary>
public static class FuseOpenFlags
{
    /// <summary>FUSE_OPEN_KILL_SUIDGID: an O_TRUNC open by a caller without CAP_FSETID; the truncate drops set-id bits as a write does.</summary>
    public const uint KillSuidGid = 1 << 0;
}

public readonly record struct SetAttrRequest(
    SetAttrValid Valid, uint Mode, uint Uid, uint Gid, ulong Size,
    long ATimeSec, uint ATimeNsec, long MTimeSec, uint MTimeNsec, long CTimeSec, uint CTimeNsec, ulong FileHandle);

public readonly record struct StatFsReply(
    ulong Blocks, ulong BlocksFree, ulong BlocksAvailable, ulong Files, ulong FilesFree, uint BlockSize, uint NameMax, uint FragmentSize);

/// <summary>Result of an operation: 0 or a positive errno, plus a value when it succeeded.</summary>
public readonly record struct FuseResult<T>(int Errno, T Value)
{
    public bool Ok => Errno == 0;
    public static implicit operator FuseResult<T>(T value) => new(0, value);
    public static FuseResult<T> Fail(int errno) => new(errno, default!);
}

/// <summary>One directory entry handed to <see cref="DirectoryWriter"/>.</summary>
public readonly record struct DirectoryEntry(ReadOnlyMemory<byte> Name, ulong Ino, uint Mode, long NextOffset);

/// <summary>
/// Packs READDIR / READDIRPLUS answers into the reply buffer. The filesystem calls <see cref="TryAdd"/> until it
/// returns false (buffer full; that entry was not sent and must come first in the next call, at its offset).
/// For READDIRPLUS an entry added with a non-null <see cref="EntryReply"/> counts as one LOOKUP in the kernel, which
/// will FORGET it later: the filesystem must count that lookup itself when <see cref="TryAdd"/> returned true —
/// except for "." and "..", which the kernel never counts. An entry added with a null reply is sent with node id 0
/// ("no attributes") and is not counted.
/// </summary>
public abstract class DirectoryWriter
{
    public abstract bool IsPlus { get; }

    /// <summary>Adds an entry; <paramref name="entry"/> must be given when <see cref="IsPlus"/> is true (null for "." and "..").</summary>
    public abstract bool TryAdd(in DirectoryEntry dirent, in EntryReply? entry);
}
