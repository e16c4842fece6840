using MessagePack;

namespace DinoMesh.Core.Metadata;

// Mutations on one inode: attributes, contents, extended attributes.

/// <summary>
/// chmod/chown/truncate/utimensat. Only the fields that are set change. <paramref name="KillSuidGid"/> is the kernel's
/// request to drop setuid (and setgid when group-executable) from whatever the mode is when this applies.
/// <paramref name="KillCapability"/> removes the <c>security.capability</c> xattr if the file has one when this applies:
/// what a write, truncate or chown does on Linux (file capabilities must not survive a change of the file's contents
/// or owner). A mutation with only the two intents is how a write drops privileges (FUSE_HANDLE_KILLPRIV_V2).
/// </summary>
[MessagePackObject]
public sealed record SetAttributes(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] uint? Mode = null,
    [property: Key(2)] uint? Uid = null,
    [property: Key(3)] uint? Gid = null,
    [property: Key(4)] ulong? Size = null,
    [property: Key(5)] long? ATimeNs = null,
    [property: Key(6)] long? MTimeNs = null,
    [property: Key(7)] long? CTimeNs = null,
    [property: Key(8)] bool KillSuidGid = false,
    [property: Key(9)] bool KillCapability = false) : MutationKind;

/// <summary>
/// New contents for ranges of a file: <paramref name="Holes"/> are cut out first (punch hole, zero range, a copied
/// hole), then each extent is laid over the file's map in order (later ones win), so two nodes writing disjoint ranges
/// both survive. The file is at least <paramref name="MinSize"/> long afterwards.
/// </summary>
[MessagePackObject]
public sealed record WriteExtents(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] Extent[] Extents,
    [property: Key(2)] ulong MinSize = 0,
    [property: Key(3)] long? MTimeNs = null,
    [property: Key(4)] ByteRange[]? Holes = null) : MutationKind;

/// <summary>
/// Background compaction: the extents of <paramref name="Range"/> become the one extent <paramref name="Replacement"/>
/// (the same bytes, stored as one chunk or inline), but only if they are still exactly the extents the compactor read —
/// they tile the range with no hole and nothing straddling its ends, and their <see cref="ExtentDigest"/> equals
/// <paramref name="ExpectedDigest"/>. Otherwise someone wrote there meanwhile and it applies as a no-op, so it can never
/// undo a concurrent write from any node. Size and times do not change: no user wrote anything.
/// </summary>
[MessagePackObject]
public sealed record CompactExtents(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] ByteRange Range,
    [property: Key(2)] byte[] ExpectedDigest,
    [property: Key(3)] Extent Replacement) : MutationKind;

/// <summary>Bytes [Offset, Offset + Length) of a file.</summary>
[MessagePackObject]
public readonly record struct ByteRange([property: Key(0)] long Offset, [property: Key(1)] long Length)
{
    [IgnoreMember] public long End => Offset + Length;
}

/// <summary>
/// setxattr. For <c>system.posix_acl_access</c> the value is an ACL: apply sets the permission bits it implies (keeping
/// only the mode when the ACL says no more), and drops setgid when the caller is neither privileged nor in the file's
/// group, as Linux does — as the kernel decided it (<paramref name="KillSetGid"/>, when the kernel says), else by the
/// caller's groups against the file's group as it is then. <paramref name="Bounded"/>: apply holds the inode's
/// xattrs to the per-inode totals (<see cref="FileSystemState.MaxXattrNamesList"/>,
/// <see cref="FileSystemState.MaxXattrBytes"/>); every node sets it, and entries written before the totals existed
/// (without the key) apply as they did then, so replaying an old log gives the state it gave.
/// </summary>
[MessagePackObject]
public sealed record SetXattr(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] FileName Name,
    [property: Key(2)] byte[] Value,
    [property: Key(3)] uint Flags = 0,
    [property: Key(4)] bool? KillSetGid = null,
    [property: Key(5)] bool Bounded = false) : MutationKind;

/// <summary>
/// A read moved the access time (relatime, strictatime): only atime changes — not ctime, as on a local filesystem —
/// and never backwards, so a late, batched update cannot undo a newer one.
/// </summary>
[MessagePackObject]
public sealed record SetAccessTime(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] long ATimeNs) : MutationKind;

/// <summary>removexattr.</summary>
[MessagePackObject]
public sealed record RemoveXattr(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] FileName Name) : MutationKind;
