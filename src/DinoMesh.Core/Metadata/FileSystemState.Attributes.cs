using DinoMesh.Core.Chunks;
using DinoMesh.Core.Wire;

namespace DinoMesh.Core.Metadata;

// Mutations on one inode: attributes, contents, extended attributes.
public sealed partial record FileSystemState
{
    public const uint XattrCreate = 1;
    public const uint XattrReplace = 2;
    public const int MaxXattrValue = 64 * 1024;
    public const int MaxXattrName = 255;

    private ApplyResult ApplySetAttributes(Mutation m, SetAttributes s)
    {
        if (Find(s.Ino) is not { } inode) return Fail(FsError.Stale);
        var next = inode;
        if (s.HasSize)
        {
            if (inode.IsDirectory) return Fail(FsError.IsADirectory);
            if (!inode.IsRegular) return Fail(FsError.Invalid);
            if (s.Size > MaxFileSize) return Fail(FsError.TooBig);
            var size = (long)s.Size;
            next = next with { Size = size, Extents = size < inode.Size ? inode.Extents.Truncate(size) : inode.Extents };
            if (size != inode.Size && !s.HasMtimeNs) next = next with { MTime = m.TimeNs };
        }
        if (s.HasMode) next = next with { Mode = FileMode.TypeOf(inode.Mode) | (s.Mode & FileMode.PermissionMask) };
        if (s.HasUid) next = next with { Uid = s.Uid };
        if (s.HasGid) next = next with { Gid = s.Gid };
        if (s.HasAtimeNs) next = next with { ATime = s.AtimeNs };
        if (s.HasMtimeNs) next = next with { MTime = s.MtimeNs };
        next = next with { CTime = s.HasCtimeNs ? s.CtimeNs : m.TimeNs };
        var contentChanged = s.HasSize && s.Size != (ulong)inode.Size;
        return Done(With(next), new Effect { Ino = s.Ino, Touched = [s.Ino], ContentChanged = contentChanged ? [s.Ino] : [] });
    }

    private ApplyResult ApplyWrite(Mutation m, WriteExtents w)
    {
        if (Find(w.Ino) is not { } inode) return Fail(FsError.Stale);
        if (inode.IsDirectory) return Fail(FsError.IsADirectory);
        if (!inode.IsRegular) return Fail(FsError.Invalid);
        if (w.MinSize > MaxFileSize) return Fail(FsError.TooBig);
        var extents = inode.Extents;
        var size = Math.Max(inode.Size, (long)w.MinSize);
        foreach (var hole in w.Holes)
        {
            if (hole.Offset > MaxFileSize || hole.Length > MaxFileSize - hole.Offset) return Fail(FsError.TooBig);
            extents = extents.Punch((long)hole.Offset, (long)(hole.Offset + hole.Length));
        }
        foreach (var e in w.Extents)
        {
            var inline = !e.Inline.IsEmpty;
            if (e.Length == 0 || (inline ? !e.Chunk.IsEmpty || e.Inline.Length > Extent.MaxInline : e.Chunk.Length != ChunkId.Size)) return Fail(FsError.Invalid);
            if (inline && (e.ChunkOffset > (ulong)e.Inline.Length || e.Length > (ulong)e.Inline.Length - e.ChunkOffset)) return Fail(FsError.Invalid);
            if (e.Offset > MaxFileSize || e.Length > MaxFileSize - e.Offset) return Fail(FsError.TooBig);
            if (e.ChunkOffset > long.MaxValue - e.Length) return Fail(FsError.Invalid);
            var extent = inline
                ? new Extent((long)e.Offset, (long)e.Length, default, (long)e.ChunkOffset, e.Inline.ToByteArray())
                : new Extent((long)e.Offset, (long)e.Length, ChunkId.FromBytes(e.Chunk.Span), (long)e.ChunkOffset);
            extents = extents.Write(extent);
            size = Math.Max(size, extent.End);
        }
        var next = inode with
        {
            Extents = extents,
            Size = size,
            MTime = w.HasMtimeNs ? w.MtimeNs : m.TimeNs,
            CTime = m.TimeNs,
        };
        return Done(With(next), new Effect { Ino = w.Ino, Touched = [w.Ino], ContentChanged = [w.Ino] });
    }

    private ApplyResult ApplySetXattr(Mutation m, SetXattr x)
    {
        if (Find(x.Ino) is not { } inode) return Fail(FsError.Stale);
        if (x.Name.IsEmpty) return Fail(FsError.Invalid);
        if (x.Name.Length > MaxXattrName) return Fail(FsError.Range);
        if (x.Value.Length > MaxXattrValue) return Fail(FsError.ArgumentTooLong);
        var name = FileName.FromBytes(x.Name.Span);
        var exists = inode.Xattrs.ContainsKey(name);
        if ((x.Flags & XattrCreate) != 0 && exists) return Fail(FsError.Exists);
        if ((x.Flags & XattrReplace) != 0 && !exists) return Fail(FsError.NoData);
        var next = inode with { Xattrs = inode.Xattrs.SetItem(name, x.Value.ToByteArray()), CTime = m.TimeNs };
        if (x.HasMode) next = next with { Mode = FileMode.TypeOf(inode.Mode) | (x.Mode & FileMode.PermissionMask) };
        return Done(With(next), new Effect { Ino = x.Ino, Touched = [x.Ino] });
    }

    private ApplyResult ApplyRemoveXattr(Mutation m, RemoveXattr x)
    {
        if (Find(x.Ino) is not { } inode) return Fail(FsError.Stale);
        var name = FileName.FromBytes(x.Name.Span);
        if (!inode.Xattrs.ContainsKey(name)) return Fail(FsError.NoData);
        return Done(With(inode with { Xattrs = inode.Xattrs.Remove(name), CTime = m.TimeNs }), new Effect { Ino = x.Ino, Touched = [x.Ino] });
    }
}
