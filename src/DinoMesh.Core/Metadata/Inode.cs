using System.Collections.Immutable;

namespace DinoMesh.Core.Metadata;

/// <summary>
/// One file, directory, symlink or special file as committed. Immutable; changes make new records.
/// Times are nanoseconds since the Unix epoch. <see cref="Parent"/> is the containing directory for directories
/// (their ".."); for other kinds it is the directory the inode was created in (informational only: hard links).
/// </summary>
public sealed record Inode
{
    public required ulong Ino { get; init; }
    public required uint Mode { get; init; }
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public uint NLink { get; init; }
    public long Size { get; init; }
    public long ATime { get; init; }
    public long MTime { get; init; }
    public long CTime { get; init; }
    public uint RDev { get; init; }
    public byte[]? SymlinkTarget { get; init; }
    public ulong Parent { get; init; }

    /// <summary>Children by name; directories only.</summary>
    public ImmutableSortedDictionary<FileName, ulong> Entries { get; init; } = EmptyEntries;

    /// <summary>File contents; regular files only.</summary>
    public ExtentMap Extents { get; init; } = ExtentMap.Empty;

    public ImmutableSortedDictionary<FileName, byte[]> Xattrs { get; init; } = EmptyXattrs;

    public static readonly ImmutableSortedDictionary<FileName, ulong> EmptyEntries = ImmutableSortedDictionary<FileName, ulong>.Empty;
    public static readonly ImmutableSortedDictionary<FileName, byte[]> EmptyXattrs = ImmutableSortedDictionary<FileName, byte[]>.Empty;

    /// <summary>The xattr that holds a file's capabilities (what setcap(8) sets).</summary>
    public static readonly FileName CapabilityXattr = FileName.FromString("security.capability");

    /// <summary>Has file capabilities: a write, truncate or chown removes them (<see cref="SetAttributes.KillCapability"/>).</summary>
    public bool HasCapability => Xattrs.ContainsKey(CapabilityXattr);

    public bool IsDirectory => FileMode.IsDirectory(Mode);
    public bool IsRegular => FileMode.IsRegular(Mode);
    public bool IsSymlink => FileMode.IsSymlink(Mode);
}
