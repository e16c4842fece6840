using DinoMesh.Core.Chunks;

namespace DinoMesh.Core.Metadata;

// Mutations on one inode: attributes, contents, extended attributes.
public sealed partial record FileSystemState
{
    public const uint XattrCreate = 1;
    public const uint XattrReplace = 2;
    public const int MaxXattrValue = 64 * 1024;
    public const int MaxXattrName = 255;

    /// <summary>
    /// The most one inode's xattr names may take as listxattr returns them (each name and its NUL): the kernel's
    /// XATTR_LIST_MAX, past which listxattr could not list them at all.
    /// </summary>
    public const int MaxXattrNamesList = 64 * 1024;

    /// <summary>
    /// The most one inode's xattr names and values may take together. Every node keeps them in memory, in every
    /// snapshot and in the log; without a bound one user could grow all of that through one file. ext4 allows one
    /// block, CephFS 64 KiB; this allows four values of the largest size.
    /// </summary>
    public const int MaxXattrBytes = 256 * 1024;

    private ApplyResult ApplySetAttributes(Mutation m, SetAttributes s)
    {
        if (Find(s.Ino) is not { } inode) return Fail(FsError.Stale);
        var next = inode;
        var refs = new ChunkRefChanges(ChunkRefs);
        if (s.Size is { } requested)
        {
            if (inode.IsDirectory) return Fail(FsError.IsADirectory);
            if (!inode.IsRegular) return Fail(FsError.Invalid);
            if (requested > MaxFileSize) return Fail(FsError.TooBig);
            var size = (long)requested;
            next = next with { Size = size, Extents = size < inode.Size ? inode.Extents.Truncate(size, refs) : inode.Extents };
            if (size != inode.Size && s.MTimeNs is null) next = next with { MTime = m.TimeNs };
        }
        if (s.Mode is { } mode) next = next with { Mode = FileMode.TypeOf(inode.Mode) | (mode & FileMode.PermissionMask) };
        else if (s.KillSuidGid)
        {
            // Resolved against the mode as it is now: group-exec decides whether setgid means "mandatory locking" (kept)
            // or privilege (dropped), as in the kernel.
            next = next with { Mode = inode.Mode & ~FileMode.SetIdBitsToKill(inode.Mode) };
        }
        if (s.KillCapability && next.HasCapability) next = next with { Xattrs = next.Xattrs.Remove(Inode.CapabilityXattr) };
        if (s.Uid is { } uid) next = next with { Uid = uid };
        if (s.Gid is { } gid) next = next with { Gid = gid };
        if (s.ATimeNs is { } atime) next = next with { ATime = atime };
        if (s.MTimeNs is { } mtime) next = next with { MTime = mtime };
        next = next with { CTime = s.CTimeNs ?? m.TimeNs };
        var contentChanged = s.Size is { } sz && sz != (ulong)inode.Size;
        return Done(With(next) with { ChunkRefs = refs.Changed ? refs.Refs : ChunkRefs }, new Effect
        {
            Ino = s.Ino,
            Touched = [s.Ino],
            ContentChanged = contentChanged ? [s.Ino] : [],
            FreedChunks = refs.Changed ? refs.Freed() : [],
        });
    }

    private ApplyResult ApplyWrite(Mutation m, WriteExtents w)
    {
        if (Find(w.Ino) is not { } inode) return Fail(FsError.Stale);
        if (inode.IsDirectory) return Fail(FsError.IsADirectory);
        if (!inode.IsRegular) return Fail(FsError.Invalid);
        if (w.MinSize > MaxFileSize) return Fail(FsError.TooBig);
        if (w.Extents is null) return Fail(FsError.Invalid);
        if (w.AppendedAt is { } appendedAt)
        {
            // Checked before they are split and moved (an entry without the key is checked as it always was, below).
            if (appendedAt < 0 || appendedAt > MaxFileSize) return Fail(FsError.Invalid);
            foreach (var e in w.Extents)
            {
                if (ExtentError(e) is var error and not FsError.None) return Fail(error);
            }
        }
        // An append lands at the end of the file as the log orders it (WriteExtents.AppendedAt); without the key the
        // extents are laid where they say, as every entry written before it existed was.
        var (laid, minSize, shift) = w.Appended(inode.Size);
        if (minSize > MaxFileSize) return Fail(FsError.TooBig);
        var extents = inode.Extents;
        var refs = new ChunkRefChanges(ChunkRefs);
        var size = Math.Max(inode.Size, (long)minSize);
        foreach (var hole in w.Holes ?? [])
        {
            if (hole.Offset < 0 || hole.Length < 0) return Fail(FsError.Invalid);
            if (hole.Offset > MaxFileSize || hole.Length > MaxFileSize - hole.Offset) return Fail(FsError.TooBig);
            extents = extents.Punch(hole.Offset, hole.End, refs);
        }
        foreach (var e in laid)
        {
            if (ExtentError(e) is var error and not FsError.None) return Fail(error);
            extents = extents.Write(e, refs);
            size = Math.Max(size, e.End);
        }
        var next = inode with
        {
            Extents = extents,
            Size = size,
            MTime = w.MTimeNs ?? m.TimeNs,
            CTime = m.TimeNs,
        };
        // One copy of the state; one array for the two lists that name the same inode (nobody changes an effect's lists).
        ulong[] written = [w.Ino];
        return Done(this with { Inodes = Inodes.SetItem(w.Ino, next), ChunkRefs = refs.Refs }, new Effect
        {
            Ino = w.Ino,
            Touched = written,
            ContentChanged = written,
            FreedChunks = refs.Freed(),
            AddedChunks = refs.Added(),
            Proposer = m.Proposer,
            AppendShift = shift,
        });
    }

    /// <summary>
    /// Background compaction (<see cref="CompactExtents"/>): malformed input is refused as a write's would be; a range whose
    /// extents changed since the compactor read them is left alone (a successful no-op). Size, mtime and ctime stay: the
    /// bytes are the same, so no cache needs dropping (no ContentChanged, no Touched) and no user wrote anything.
    /// </summary>
    private ApplyResult ApplyCompact(CompactExtents c)
    {
        if (Find(c.Ino) is not { } inode) return Fail(FsError.Stale);
        if (inode.IsDirectory) return Fail(FsError.IsADirectory);
        if (!inode.IsRegular) return Fail(FsError.Invalid);
        var range = c.Range;
        var e = c.Replacement;
        if (c.ExpectedDigest is not { Length: ExtentDigest.Size }) return Fail(FsError.Invalid);
        if (range.Offset < 0 || range.Length <= 0 || e.ChunkOffset < 0) return Fail(FsError.Invalid);
        if (range.Offset > MaxFileSize || range.Length > MaxFileSize - range.Offset) return Fail(FsError.TooBig);
        if (e.Offset != range.Offset || e.Length != range.Length) return Fail(FsError.Invalid);
        if (ExtentError(e) is var error and not FsError.None) return Fail(error);
        if (!ExtentMap.Tiles(inode.Extents.Touching(range.Offset, range.End), range.Offset, range.End) || !ExtentDigest.Of(inode.Extents.Touching(range.Offset, range.End)).AsSpan().SequenceEqual(c.ExpectedDigest))
        {
            return Done(this, Effect.None);
        }
        var refs = new ChunkRefChanges(ChunkRefs);
        var next = inode with { Extents = inode.Extents.Write(e, refs) };
        return Done(With(next) with { ChunkRefs = refs.Refs }, new Effect
        {
            Ino = c.Ino,
            FreedChunks = refs.Freed(),
            AddedChunks = refs.Added(),
        });
    }

    /// <summary>
    /// What is wrong with an extent a writer or the compactor sends, as the errno to answer: a negative or empty place,
    /// inline bytes that do not hold it, a chunk offset that overflows (Invalid), or a place past the largest file (TooBig).
    /// </summary>
    private static FsError ExtentError(Extent e)
    {
        if (e.Length <= 0 || e.Offset < 0 || e.ChunkOffset < 0) return FsError.Invalid;
        if (e.Inline is { } inline && (inline.Length > Extent.MaxInline || e.ChunkOffset > inline.Length || e.Length > inline.Length - e.ChunkOffset)) return FsError.Invalid;
        if (e.Offset > MaxFileSize || e.Length > MaxFileSize - e.Offset) return FsError.TooBig;
        if (e.ChunkOffset > long.MaxValue - e.Length) return FsError.Invalid;
        return FsError.None;
    }

    private ApplyResult ApplySetXattr(Mutation m, SetXattr x)
    {
        if (Find(x.Ino) is not { } inode) return Fail(FsError.Stale);
        if (x.Name.ByteLength == 0) return Fail(FsError.Invalid);
        if (x.Name.ByteLength > MaxXattrName) return Fail(FsError.Range);
        if (x.Value is null) return Fail(FsError.Invalid);
        if (x.Value.Length > MaxXattrValue) return Fail(FsError.ArgumentTooLong);
        if (x.Bounded && !FitsXattrTotals(inode, x.Name, x.Value)) return Fail(FsError.NoSpace);
        if (x.Name == AccessAclName) return ApplySetAccessAcl(m, x, inode);
        if (x.Name == DefaultAclName)
        {
            // Only directories have a default ACL; removing one from anything else is a no-op, as on ext4.
            if (!inode.IsDirectory) return x.Value.Length == 0 ? Done(this, Effect.None) : Fail(FsError.NotPermitted);
            if (PosixAcl.Parse(x.Value) is null) return Fail(FsError.Invalid);
        }
        var exists = inode.Xattrs.ContainsKey(x.Name);
        if ((x.Flags & XattrCreate) != 0 && exists) return Fail(FsError.Exists);
        if ((x.Flags & XattrReplace) != 0 && !exists) return Fail(FsError.NoData);
        var next = inode with { Xattrs = inode.Xattrs.SetItem(x.Name, x.Value), CTime = m.TimeNs };
        return Done(With(next), new Effect { Ino = x.Ino, Touched = [x.Ino] });
    }

    /// <summary>
    /// Whether the inode's xattrs may hold <paramref name="value"/> under <paramref name="name"/>: within the per-inode
    /// totals afterwards, or no larger than before (an inode past them from before they existed may still shrink).
    /// </summary>
    private static bool FitsXattrTotals(Inode inode, FileName name, byte[] value)
    {
        long names = 0, bytes = 0, oldNames = 0, oldBytes = 0;
        foreach (var (n, v) in inode.Xattrs)
        {
            if (n == name)
            {
                oldNames = n.ByteLength + 1;
                oldBytes = n.ByteLength + v.Length;
                continue;
            }
            names += n.ByteLength + 1;
            bytes += n.ByteLength + v.Length;
        }
        long newNames = name.ByteLength + 1, newBytes = name.ByteLength + value.Length;
        if (names + newNames <= MaxXattrNamesList && bytes + newBytes <= MaxXattrBytes) return true;
        return newNames <= oldNames && newBytes <= oldBytes;
    }

    /// <summary>
    /// An access ACL sets the permission bits it implies, against the mode as it is now (posix_acl_update_mode): an ACL
    /// that says no more than the mode is kept as the mode alone, and a caller who is neither privileged nor in the
    /// file's group clears setgid.
    /// </summary>
    private ApplyResult ApplySetAccessAcl(Mutation m, SetXattr x, Inode inode)
    {
        if (PosixAcl.Parse(x.Value) is not { } acl) return Fail(FsError.Invalid);
        var exists = inode.Xattrs.ContainsKey(x.Name);
        if ((x.Flags & XattrCreate) != 0 && exists) return Fail(FsError.Exists);
        if ((x.Flags & XattrReplace) != 0 && !exists) return Fail(FsError.NoData);
        var mode = acl.ApplyToMode(inode.Mode);
        if (x.KillSetGid ?? (!m.CallerIsPrivileged && !m.CallerInGroup(inode.Gid))) mode &= ~FileMode.SetGid;
        var xattrs = acl.IsEquivalentToMode ? inode.Xattrs.Remove(x.Name) : inode.Xattrs.SetItem(x.Name, x.Value);
        var next = inode with { Mode = mode, Xattrs = xattrs, CTime = m.TimeNs };
        return Done(With(next), new Effect { Ino = x.Ino, Touched = [x.Ino] });
    }

    private ApplyResult ApplySetAccessTime(SetAccessTime a)
    {
        if (Find(a.Ino) is not { } inode) return Fail(FsError.Stale);
        if (a.ATimeNs <= inode.ATime) return Done(this, Effect.None);
        return Done(With(inode with { ATime = a.ATimeNs }), new Effect { Ino = a.Ino, Touched = [a.Ino] });
    }

    private ApplyResult ApplyRemoveXattr(Mutation m, RemoveXattr x)
    {
        if (Find(x.Ino) is not { } inode) return Fail(FsError.Stale);
        if (!inode.Xattrs.ContainsKey(x.Name)) return Fail(FsError.NoData);
        return Done(With(inode with { Xattrs = inode.Xattrs.Remove(x.Name), CTime = m.TimeNs }), new Effect { Ino = x.Ino, Touched = [x.Ino] });
    }
}
