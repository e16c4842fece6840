namespace DinoMesh.Integration.Tests.Support;

/// <summary>A timestamp with the nanoseconds the kernel reported (never rounded).</summary>
public readonly record struct Timestamp(long Seconds, uint Nanoseconds) : IComparable<Timestamp>
{
    public int CompareTo(Timestamp other) =>
        Seconds != other.Seconds ? Seconds.CompareTo(other.Seconds) : Nanoseconds.CompareTo(other.Nanoseconds);

    public static bool operator <(Timestamp a, Timestamp b) => a.CompareTo(b) < 0;
    public static bool operator >(Timestamp a, Timestamp b) => a.CompareTo(b) > 0;
    public static bool operator <=(Timestamp a, Timestamp b) => a.CompareTo(b) <= 0;
    public static bool operator >=(Timestamp a, Timestamp b) => a.CompareTo(b) >= 0;

    public override string ToString() => $"{Seconds}.{Nanoseconds:D9}";
}

/// <summary>What statx(2) reported for one path.</summary>
public sealed record FileStat(
    uint Mode,
    uint Uid,
    uint Gid,
    uint Nlink,
    ulong Inode,
    long Size,
    long Blocks,
    Timestamp Atime,
    Timestamp Mtime,
    Timestamp Ctime)
{
    public const uint TypeMask = 0xF000; // S_IFMT
    public const uint Regular = 0x8000;
    public const uint Directory = 0x4000;
    public const uint Symlink = 0xA000;
    public const uint Fifo = 0x1000;

    /// <summary>Permission bits including setuid, setgid and sticky (mode &amp; 07777).</summary>
    public uint Permissions => Mode & 0xFFF;

    public uint Type => Mode & TypeMask;

    public bool IsRegular => Type == Regular;
    public bool IsDirectory => Type == Directory;
    public bool IsSymlink => Type == Symlink;
    public bool IsFifo => Type == Fifo;
}
