using MessagePack;

namespace DinoMesh.Core.Metadata;

// Mutations that add, remove or move one directory entry.

/// <summary>
/// mknod/mkdir/symlink/create. <paramref name="Mode"/> is the type and the permission bits the caller asked for; apply
/// limits them by the directory's default ACL (which the new inode then inherits) or else by <paramref name="Umask"/>, and
/// gives the inode the directory's group when the directory is setgid — all against the directory as it is then.
/// </summary>
[MessagePackObject]
public sealed record CreateNode(
    [property: Key(0)] ulong Parent,
    [property: Key(1)] FileName Name,
    [property: Key(2)] uint Mode,
    [property: Key(3)] uint Umask,
    [property: Key(4)] uint Uid,
    [property: Key(5)] uint Gid,
    [property: Key(6)] uint Rdev = 0,
    [property: Key(7)] byte[]? SymlinkTarget = null) : MutationKind;

/// <summary>
/// unlink (<paramref name="Directory"/> false) or rmdir. A file whose last link goes stays as an orphan while any node may
/// hold it open; <paramref name="NotOpenHere"/> lists the inodes the proposer holds no handle on, so an unlink of a
/// closed file on a single node drops it in the same mutation.
/// </summary>
[MessagePackObject]
public sealed record RemoveEntry(
    [property: Key(0)] ulong Parent,
    [property: Key(1)] FileName Name,
    [property: Key(2)] bool Directory,
    [property: Key(3)] ulong[]? NotOpenHere = null) : MutationKind;

/// <summary>rename/renameat2 with RENAME_NOREPLACE (1) or RENAME_EXCHANGE (2); a replaced file is handled as by unlink.</summary>
[MessagePackObject]
public sealed record Rename(
    [property: Key(0)] ulong Parent,
    [property: Key(1)] FileName Name,
    [property: Key(2)] ulong NewParent,
    [property: Key(3)] FileName NewName,
    [property: Key(4)] uint Flags = 0,
    [property: Key(5)] ulong[]? NotOpenHere = null) : MutationKind;

/// <summary>link(2): one more name for an existing inode.</summary>
[MessagePackObject]
public sealed record Link(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] ulong NewParent,
    [property: Key(2)] FileName NewName) : MutationKind;
