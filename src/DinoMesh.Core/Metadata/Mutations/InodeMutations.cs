using MessagePack;

namespace DinoMesh.Core.Metadata;

// Mutations on one inode: attributes, contents, extended attributes.

/// <summary>
/// chmod/chown/truncate/utimensat. Only the fields that are set change. <paramref name="KillSuidGid"/> is the kernel's
/// request to drop setuid (and setgid when group-executable) from whatever the mode is when this applies.
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
    [property: Key(8)] bool KillSuidGid = false) : MutationKind;

/// <summary>
/// New contents for ranges of a file: each extent is laid over the file's map in order (later ones win), so two nodes
/// writing disjoint ranges both survive. The file is at least <paramref name="MinSize"/> long afterwards.
/// </summary>
[MessagePackObject]
public sealed record WriteExtents(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] Extent[] Extents,
    [property: Key(2)] ulong MinSize = 0,
    [property: Key(3)] long? MTimeNs = null) : MutationKind;

/// <summary>
/// setxattr. For <c>system.posix_acl_access</c> the value is an ACL: apply sets the permission bits it implies (keeping
/// only the mode when the ACL says no more), and drops setgid when the caller is neither privileged nor in the file's
/// group, as Linux does.
/// </summary>
[MessagePackObject]
public sealed record SetXattr(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] FileName Name,
    [property: Key(2)] byte[] Value,
    [property: Key(3)] uint Flags = 0) : MutationKind;

/// <summary>removexattr.</summary>
[MessagePackObject]
public sealed record RemoveXattr(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] FileName Name) : MutationKind;
