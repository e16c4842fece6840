using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Fuse;
using Google.Protobuf;

namespace DinoMesh.Volume;

// Names: lookup, create of every kind, remove, rename, link, readlink.
public sealed partial class DinoFileSystem
{
    private static readonly FileName AccessAcl = FileName.FromString(PosixAcl.AccessName);
    private static readonly FileName DefaultAcl = FileName.FromString(PosixAcl.DefaultName);

    public override ValueTask<FuseResult<EntryReply>> LookupAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name)
    {
        var (error, inode) = _meta.Current.Lookup(parent, FileName.FromBytes(name.Span));
        // A miss is cached by the kernel as a negative entry; a create anywhere invalidates it.
        if (error == FsError.NoEntry) return ValueTask.FromResult<FuseResult<EntryReply>>(NegativeEntry());
        return ValueTask.FromResult(inode is null ? Fail<EntryReply>(error) : Entry(inode));
    }

    public override ValueTask<FuseResult<EntryReply>> MkNodAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint rdev, uint umask)
    {
        var type = FileMode.TypeOf(mode);
        if (type == 0) mode |= FileMode.Regular;
        else if (type is FileMode.Directory or FileMode.Symlink) return ValueTask.FromResult(Fail<EntryReply>(FsError.Invalid));
        return CreateNodeAsync(ctx, parent, name, mode, umask, rdev, null);
    }

    public override ValueTask<FuseResult<EntryReply>> MkDirAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask) =>
        CreateNodeAsync(ctx, parent, name, FileMode.Directory | (mode & FileMode.PermissionMask), umask, 0, null);

    public override ValueTask<FuseResult<EntryReply>> SymLinkAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target) =>
        CreateNodeAsync(ctx, parent, name, FileMode.Symlink | 0x1FF, 0, 0, target);

    private async ValueTask<FuseResult<EntryReply>> CreateNodeAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask, uint rdev, ReadOnlyMemory<byte>? target)
    {
        var create = new CreateNode { Parent = parent, Name = ByteString.CopyFrom(name.Span), Uid = ctx.Uid, Gid = ctx.Gid, Rdev = rdev };
        create.Mode = InitialMode(create, mode, umask);
        if (target is { } t) create.SymlinkTarget = ByteString.CopyFrom(t.Span);
        var result = await CommitAsync(ctx, new Mutation { Create = create });
        if (!result.Ok) return Fail<EntryReply>(result.Error);
        return Entry(result.State.Find(result.Effect.Ino)!);
    }

    /// <summary>
    /// The mode a new inode gets: the requested mode limited by the umask — or, when the directory has a default ACL,
    /// by that ACL instead (which the new inode inherits, as on ext4).
    /// </summary>
    private uint InitialMode(CreateNode create, uint mode, uint umask)
    {
        if (FileMode.IsSymlink(mode)) return mode;
        var dir = _meta.Current.Find(create.Parent);
        if (dir is not null && dir.Xattrs.TryGetValue(DefaultAcl, out var defaultBytes) && PosixAcl.Parse(defaultBytes) is { } defaultAcl)
        {
            var (access, newMode) = defaultAcl.CreateFrom(mode);
            if (access is not null) create.Xattrs.Add(new Xattr { Name = ByteString.CopyFromUtf8(PosixAcl.AccessName), Value = ByteString.CopyFrom(access.ToBytes()) });
            if (FileMode.IsDirectory(mode)) create.Xattrs.Add(new Xattr { Name = ByteString.CopyFromUtf8(PosixAcl.DefaultName), Value = ByteString.CopyFrom(defaultBytes) });
            return newMode;
        }
        return mode & ~(umask & 0x1FF);
    }

    public override ValueTask<int> UnlinkAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name) => RemoveAsync(ctx, parent, name, directory: false);

    public override ValueTask<int> RmDirAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name) => RemoveAsync(ctx, parent, name, directory: true);

    private async ValueTask<int> RemoveAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, bool directory)
    {
        // A file nobody here holds open goes in the same mutation as its last name: one commit instead of two.
        var target = directory ? null : _meta.Current.Lookup(parent, FileName.FromBytes(name.Span)).Inode;
        var reclaim = target is not null && !IsOpen(target.Ino);
        var before = _meta.Current;
        var result = await CommitAsync(ctx, new Mutation { Remove = new RemoveEntry { Parent = parent, Name = ByteString.CopyFrom(name.Span), Directory = directory, Reclaim = reclaim } });
        if (!result.Ok) return Errno(result.Error);
        KeepUnlinkedDirectories(before, result, parent);
        if (result.Effect.Removed.Contains(result.Effect.Ino)) _contents.Discard(result.Effect.Ino);
        else if (!directory) await ReclaimIfOrphanAsync(ctx, result.Effect.Ino);
        return 0;
    }

    public override async ValueTask<int> RenameAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, ulong newParent, ReadOnlyMemory<byte> newName, uint flags)
    {
        var before = _meta.Current;
        var replaced = before.Lookup(newParent, FileName.FromBytes(newName.Span)).Inode?.Ino ?? 0;
        var result = await CommitAsync(ctx, new Mutation
        {
            Rename = new Rename { Parent = parent, Name = ByteString.CopyFrom(name.Span), NewParent = newParent, NewName = ByteString.CopyFrom(newName.Span), Flags = flags },
        });
        if (!result.Ok) return Errno(result.Error);
        KeepUnlinkedDirectories(before, result, newParent);
        await ReclaimIfOrphanAsync(ctx, replaced);
        return 0;
    }

    public override async ValueTask<FuseResult<EntryReply>> LinkAsync(FuseContext ctx, ulong ino, ulong newParent, ReadOnlyMemory<byte> newName)
    {
        var result = await CommitAsync(ctx, new Mutation { Link = new Link { Ino = ino, NewParent = newParent, NewName = ByteString.CopyFrom(newName.Span) } });
        return result.Ok ? Entry(result.State.Find(ino)!) : Fail<EntryReply>(result.Error);
    }

    public override ValueTask<FuseResult<byte[]>> ReadLinkAsync(FuseContext ctx, ulong ino)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return ValueTask.FromResult(Fail<byte[]>(FsError.Stale));
        return ValueTask.FromResult(inode.SymlinkTarget is { } target ? target : Fail<byte[]>(FsError.Invalid));
    }
}
