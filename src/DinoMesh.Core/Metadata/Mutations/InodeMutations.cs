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
/// <para><paramref name="AppendedAt"/> (absent in entries written before it existed, which apply as they did): the
/// bytes at and past it were appended (O_APPEND) by a writer that took the end of the file to be there. Apply lays
/// them at the file's end as it is in log order instead: the bytes below it (and the holes) land first, at their
/// offsets, then every extent at or past it, and a <paramref name="MinSize"/> past it, move by (size then − AppendedAt).
/// So two nodes that both appended at what each took to be the end land one after the other, and an append whose
/// commit came late lands after what was acknowledged meanwhile, never over it (see <see cref="Appended"/>).</para>
/// </summary>
[MessagePackObject]
public sealed record WriteExtents(
    [property: Key(0)] ulong Ino,
    [property: Key(1)] Extent[] Extents,
    [property: Key(2)] ulong MinSize = 0,
    [property: Key(3)] long? MTimeNs = null,
    [property: Key(4)] ByteRange[]? Holes = null,
    [property: Key(5)] long? AppendedAt = null) : MutationKind
{
    /// <summary>
    /// Where the extents of this write land when the file is <paramref name="size"/> long as it applies, and by how much
    /// the appended ones moved: the same extents (and 0) without <see cref="AppendedAt"/>. The bytes below it keep their
    /// offsets, the rest move by <c>end − AppendedAt</c>, where end is the size once the bytes below it are laid: the end
    /// of the file in log order. One pure function, so every node lays the same bytes at the same place.
    /// </summary>
    public (Extent[] Extents, ulong MinSize, long Shift) Appended(long size)
    {
        if (AppendedAt is not { } at) return (Extents, MinSize, 0);
        var end = Math.Max(size, MinSize <= (ulong)at ? (long)MinSize : 0);
        foreach (var e in Extents)
        {
            if (e.Offset < at) end = Math.Max(end, Math.Min(e.End, at));
        }
        var moved = Moved(end - at);
        return (moved.Extents, moved.MinSize, end - at);
    }

    /// <summary>
    /// This write as a plain one (no <see cref="AppendedAt"/>) that lays its bytes where they landed when the appended
    /// ones moved by <paramref name="shift"/>: the bytes below the append point first, at their offsets (an extent
    /// across it split there), then the rest, moved. Apply uses it; so does a writer that wants to know where its bytes went.
    /// </summary>
    public WriteExtents Moved(long shift)
    {
        if (AppendedAt is not { } at) return this;
        var extents = new List<Extent>(Extents.Length + 1);
        foreach (var e in Extents)
        {
            if (e.Clip(e.Offset, at) is { } below) extents.Add(below);
        }
        foreach (var e in Extents)
        {
            if (e.Clip(at, long.MaxValue) is { } above) extents.Add(above with { Offset = above.Offset + shift });
        }
        var minSize = MinSize > (ulong)at ? (ulong)Math.Max(0, (long)MinSize + shift) : MinSize;
        return this with { Extents = [.. extents], MinSize = minSize, AppendedAt = null };
    }
}

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
