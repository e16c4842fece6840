using System.Collections.Immutable;
using DinoMesh.Core.Identity;

namespace DinoMesh.Core.Metadata;

// Mutations that add or remove one directory entry: create, remove, link; and the orphans a removal can leave.
public sealed partial record FileSystemState
{
    /// <summary>Longest symlink target accepted (PATH_MAX - 1).</summary>
    public const int MaxSymlinkTarget = 4095;

    private static readonly FileName AccessAclName = FileName.FromString(PosixAcl.AccessName);
    private static readonly FileName DefaultAclName = FileName.FromString(PosixAcl.DefaultName);

    private ApplyResult ApplyCreate(Mutation m, CreateNode c)
    {
        var (error, dir) = Directory(c.Parent);
        if (dir is null) return Fail(error);
        if (c.Name.Validate() is var invalid and not FsError.None) return Fail(invalid);
        if (dir.Entries.ContainsKey(c.Name)) return Fail(FsError.Exists);
        var type = FileMode.TypeOf(c.Mode);
        if (!FileMode.IsKnownType(type)) return Fail(FsError.Invalid);
        var isDir = type == FileMode.Directory;
        if (type == FileMode.Symlink)
        {
            if (c.SymlinkTarget is not { Length: > 0 }) return Fail(FsError.NoEntry);
            if (c.SymlinkTarget.Length > MaxSymlinkTarget) return Fail(FsError.NameTooLong);
        }
        if (isDir && dir.NLink >= MaxLinks) return Fail(FsError.TooManyLinks);

        var (mode, xattrs) = InitialMode(dir, c.Mode, c.Umask);
        // A setgid directory hands its group to everything created in it, and its setgid bit to subdirectories.
        var parentSetGid = (dir.Mode & FileMode.SetGid) != 0;
        if (isDir && parentSetGid) mode |= FileMode.SetGid;
        var ino = NextIno;
        var inode = new Inode
        {
            Ino = ino,
            Mode = mode,
            Uid = c.Uid,
            Gid = parentSetGid ? dir.Gid : c.Gid,
            NLink = isDir ? 2u : 1u,
            ATime = m.TimeNs,
            MTime = m.TimeNs,
            CTime = m.TimeNs,
            RDev = c.Rdev,
            SymlinkTarget = type == FileMode.Symlink ? c.SymlinkTarget : null,
            Parent = c.Parent,
            Xattrs = xattrs,
        };
        var newDir = dir with
        {
            Entries = dir.Entries.Add(c.Name, ino),
            NLink = isDir ? dir.NLink + 1 : dir.NLink,
            MTime = m.TimeNs,
            CTime = m.TimeNs,
        };
        // One copy of the state for both inodes and the next number.
        return Done(this with { Inodes = Inodes.SetItem(ino, inode).SetItem(c.Parent, newDir), NextIno = ino + 1 }, new Effect
        {
            Ino = ino,
            Touched = [c.Parent],
            Entries = [new EntryChange(c.Parent, c.Name, 0, ino)],
            Proposer = m.Proposer,
        });
    }

    /// <summary>
    /// The mode and xattrs a new inode gets: the requested mode limited by the umask — or, when the directory has a
    /// default ACL, by that ACL instead, which the new inode inherits (a directory keeps it as its own default), as on ext4.
    /// </summary>
    private static (uint Mode, ImmutableSortedDictionary<FileName, byte[]> Xattrs) InitialMode(Inode dir, uint mode, uint umask)
    {
        if (FileMode.IsSymlink(mode)) return (FileMode.Symlink | 0x1FF, Inode.EmptyXattrs);
        if (dir.Xattrs.TryGetValue(DefaultAclName, out var defaultBytes) && PosixAcl.Parse(defaultBytes) is { } defaultAcl)
        {
            var (access, newMode) = defaultAcl.CreateFrom(mode);
            var xattrs = Inode.EmptyXattrs;
            if (access is not null) xattrs = xattrs.SetItem(AccessAclName, access.ToBytes());
            if (FileMode.IsDirectory(mode)) xattrs = xattrs.SetItem(DefaultAclName, defaultBytes);
            return (newMode, xattrs);
        }
        return (mode & ~(umask & 0x1FF), Inode.EmptyXattrs);
    }

    private ApplyResult ApplyRemove(Mutation m, RemoveEntry r)
    {
        var (error, dir) = Directory(r.Parent);
        if (dir is null) return Fail(error);
        if (r.Name.Validate() is var invalid and not FsError.None) return Fail(invalid);
        if (!dir.Entries.TryGetValue(r.Name, out var childIno) || Find(childIno) is not { } child) return Fail(FsError.NoEntry);
        var inodes = Inodes.ToBuilder();
        var orphans = Orphans;
        ulong[] removed = [], orphaned = [];
        var refs = new ChunkRefChanges(ChunkRefs);
        if (r.Directory)
        {
            if (!child.IsDirectory) return Fail(FsError.NotADirectory);
            if (child.Entries.Count > 0) return Fail(FsError.NotEmpty);
            inodes.Remove(childIno);
            removed = [childIno];
        }
        else
        {
            if (child.IsDirectory) return Fail(FsError.IsADirectory);
            var unlinked = child with { NLink = child.NLink - 1, CTime = m.TimeNs };
            if (unlinked.NLink == 0 && Unlinked(m, unlinked, r.NotOpenHere, inodes, refs, ref orphans)) removed = [childIno];
            else if (unlinked.NLink == 0) orphaned = [childIno];
            if (removed.Length == 0) inodes[childIno] = unlinked;
        }
        inodes[r.Parent] = dir with
        {
            Entries = dir.Entries.Remove(r.Name),
            NLink = r.Directory ? dir.NLink - 1 : dir.NLink,
            MTime = m.TimeNs,
            CTime = m.TimeNs,
        };
        return Done(this with { Inodes = inodes.ToImmutable(), Orphans = orphans, ChunkRefs = refs.Refs }, new Effect
        {
            Ino = childIno,
            Touched = [r.Parent, childIno],
            Entries = [new EntryChange(r.Parent, r.Name, childIno, 0)],
            Removed = removed,
            Orphaned = orphaned,
            FreedChunks = refs.Freed(),
        });
    }

    /// <summary>
    /// A file just lost its last link. Every member may hold it open — except the proposer when it says it does not —
    /// so it becomes an orphan that each of them releases; with nobody left to ask, it goes at once (true).
    /// </summary>
    private bool Unlinked(Mutation m, Inode file, ulong[]? notOpenHere, ImmutableDictionary<ulong, Inode>.Builder inodes, ChunkRefChanges refs,
        ref ImmutableDictionary<ulong, ImmutableSortedSet<PeerId>> orphans)
    {
        var holders = ImmutableSortedSet.CreateRange(Members.Keys).Add(m.Proposer);
        if (notOpenHere is not null && Array.IndexOf(notOpenHere, file.Ino) >= 0) holders = holders.Remove(m.Proposer);
        if (holders.Count > 0)
        {
            orphans = orphans.SetItem(file.Ino, holders);
            return false;
        }
        inodes.Remove(file.Ino);
        refs.RemoveAll(file.Extents);
        return true;
    }

    private ApplyResult ApplyLink(Mutation m, Link l)
    {
        if (Find(l.Ino) is not { } inode) return Fail(FsError.Stale);
        // Linux's order: the new name is checked (EEXIST) before the inode (EPERM for a directory, ENOENT for an orphan).
        var (error, dir) = Directory(l.NewParent);
        if (dir is null) return Fail(error);
        if (l.NewName.Validate() is var invalid and not FsError.None) return Fail(invalid);
        if (dir.Entries.ContainsKey(l.NewName)) return Fail(FsError.Exists);
        if (inode.IsDirectory) return Fail(FsError.NotPermitted);
        if (inode.NLink == 0) return Fail(FsError.NoEntry);
        if (inode.NLink >= MaxLinks) return Fail(FsError.TooManyLinks);
        var newDir = dir with { Entries = dir.Entries.Add(l.NewName, l.Ino), MTime = m.TimeNs, CTime = m.TimeNs };
        return Done(With(inode with { NLink = inode.NLink + 1, CTime = m.TimeNs }, newDir), new Effect
        {
            Ino = l.Ino,
            Touched = [l.NewParent, l.Ino],
            Entries = [new EntryChange(l.NewParent, l.NewName, 0, l.Ino)],
        });
    }

    private ApplyResult ApplyReleaseOrphans(Mutation m, ReleaseOrphans r)
    {
        // Idempotent: an orphan already dropped, or released before, is simply skipped.
        var inodes = Inodes.ToBuilder();
        var orphans = Orphans;
        var refs = new ChunkRefChanges(ChunkRefs);
        var removed = new List<ulong>();
        foreach (var ino in r.Inos.Distinct())
        {
            if (!orphans.TryGetValue(ino, out var holders)) continue;
            holders = holders.Remove(m.Proposer);
            if (holders.Count > 0)
            {
                orphans = orphans.SetItem(ino, holders);
                continue;
            }
            orphans = orphans.Remove(ino);
            if (inodes.TryGetValue(ino, out var inode) && inode.NLink == 0)
            {
                inodes.Remove(ino);
                refs.RemoveAll(inode.Extents);
                removed.Add(ino);
            }
        }
        return Done(this with { Inodes = inodes.ToImmutable(), Orphans = orphans, ChunkRefs = refs.Refs }, new Effect
        {
            Removed = removed,
            FreedChunks = refs.Freed(),
        });
    }
}
