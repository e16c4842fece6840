using DinoMesh.Core.Wire;

namespace DinoMesh.Core.Metadata;

// Mutations that add or remove one directory entry: create, remove, link.
public sealed partial record FileSystemState
{
    /// <summary>Longest symlink target accepted (PATH_MAX - 1).</summary>
    public const int MaxSymlinkTarget = 4095;

    private ApplyResult ApplyCreate(Mutation m, CreateNode c)
    {
        var (error, dir) = Directory(c.Parent);
        if (dir is null) return Fail(error);
        var name = FileName.FromBytes(c.Name.Span);
        if (name.Validate() is var invalid and not FsError.None) return Fail(invalid);
        if (dir.Entries.ContainsKey(name)) return Fail(FsError.Exists);
        var type = FileMode.TypeOf(c.Mode);
        if (!FileMode.IsKnownType(type)) return Fail(FsError.Invalid);
        var isDir = type == FileMode.Directory;
        if (type == FileMode.Symlink)
        {
            if (c.SymlinkTarget.IsEmpty) return Fail(FsError.NoEntry);
            if (c.SymlinkTarget.Length > MaxSymlinkTarget) return Fail(FsError.NameTooLong);
        }
        if (isDir && dir.NLink >= MaxLinks) return Fail(FsError.TooManyLinks);

        // A setgid directory hands its group to everything created in it, and its setgid bit to subdirectories.
        var parentSetGid = (dir.Mode & FileMode.SetGid) != 0;
        var mode = c.Mode;
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
            SymlinkTarget = type == FileMode.Symlink ? c.SymlinkTarget.ToByteArray() : null,
            Parent = c.Parent,
            Xattrs = c.Xattrs.Aggregate(Inode.EmptyXattrs, (x, a) => x.SetItem(FileName.FromBytes(a.Name.Span), a.Value.ToByteArray())),
        };
        var newDir = dir with
        {
            Entries = dir.Entries.Add(name, ino),
            NLink = isDir ? dir.NLink + 1 : dir.NLink,
            MTime = m.TimeNs,
            CTime = m.TimeNs,
        };
        return Done(With(inode, newDir) with { NextIno = ino + 1 }, new Effect
        {
            Ino = ino,
            Touched = [c.Parent],
            Entries = [new EntryChange(c.Parent, name, 0, ino)],
        });
    }

    private ApplyResult ApplyRemove(Mutation m, RemoveEntry r)
    {
        var (error, dir) = Directory(r.Parent);
        if (dir is null) return Fail(error);
        var name = FileName.FromBytes(r.Name.Span);
        if (name.Validate() is var invalid and not FsError.None) return Fail(invalid);
        if (!dir.Entries.TryGetValue(name, out var childIno) || Find(childIno) is not { } child) return Fail(FsError.NoEntry);
        var inodes = Inodes.ToBuilder();
        ulong[] removed = [];
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
            if (child.NLink <= 1 && r.Reclaim)
            {
                inodes.Remove(childIno);
                removed = [childIno];
            }
            else
            {
                // The last link going away leaves an orphan (NLink 0) that open handles may still use; Reclaim drops it.
                inodes[childIno] = child with { NLink = child.NLink - 1, CTime = m.TimeNs };
            }
        }
        inodes[r.Parent] = dir with
        {
            Entries = dir.Entries.Remove(name),
            NLink = r.Directory ? dir.NLink - 1 : dir.NLink,
            MTime = m.TimeNs,
            CTime = m.TimeNs,
        };
        return Done(this with { Inodes = inodes.ToImmutable() }, new Effect
        {
            Ino = childIno,
            Touched = [r.Parent, childIno],
            Entries = [new EntryChange(r.Parent, name, childIno, 0)],
            Removed = removed,
        });
    }

    private ApplyResult ApplyLink(Mutation m, Link l)
    {
        if (Find(l.Ino) is not { } inode) return Fail(FsError.Stale);
        // Linux's order: the new name is checked (EEXIST) before the inode (EPERM for a directory, ENOENT for an orphan).
        var (error, dir) = Directory(l.NewParent);
        if (dir is null) return Fail(error);
        var name = FileName.FromBytes(l.NewName.Span);
        if (name.Validate() is var invalid and not FsError.None) return Fail(invalid);
        if (dir.Entries.ContainsKey(name)) return Fail(FsError.Exists);
        if (inode.IsDirectory) return Fail(FsError.NotPermitted);
        if (inode.NLink == 0) return Fail(FsError.NoEntry);
        if (inode.NLink >= MaxLinks) return Fail(FsError.TooManyLinks);
        var newDir = dir with { Entries = dir.Entries.Add(name, l.Ino), MTime = m.TimeNs, CTime = m.TimeNs };
        return Done(With(inode with { NLink = inode.NLink + 1, CTime = m.TimeNs }, newDir), new Effect
        {
            Ino = l.Ino,
            Touched = [l.NewParent, l.Ino],
            Entries = [new EntryChange(l.NewParent, name, 0, l.Ino)],
        });
    }

    private ApplyResult ApplyReclaim(Reclaim r)
    {
        // Idempotent: another node (or an earlier retry) may already have reclaimed it; a linked inode stays.
        if (Find(r.Ino) is not { } inode || inode.NLink > 0) return Done(this, Effect.None);
        return Done(this with { Inodes = Inodes.Remove(r.Ino) }, new Effect { Ino = r.Ino, Removed = [r.Ino] });
    }
}
