using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;

namespace DinoMesh.Volume;

// Names: lookup, create of every kind, remove, rename, link, readlink.
public sealed partial class DinoFileSystem
{
    public override ValueTask<FuseResult<EntryReply>> LookupAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name)
    {
        var (error, inode) = _meta.Current.Lookup(parent, FileName.FromBytes(name.Span));
        if (error == FsError.NoEntry) return LookupMissAsync(ctx, parent, name);
        return ValueTask.FromResult(inode is null ? Fail<EntryReply>(InRemovedDirectory(error)) : Entry(inode));
    }

    /// <summary>
    /// A directory another node removed has no names, and takes none away: a lookup, unlink or rmdir in it answers
    /// ENOENT, as Linux does in a removed directory, not ESTALE (its inode is gone). This kernel marks the directory
    /// dead only when the removal's invalidation reaches it; until then a walk through the descriptor of that directory
    /// (`rm -rf`, `find`, `tar` beside another node's `rm -rf` of the same tree) got ESTALE, which the kernel's retry of
    /// a stale lookup cannot mend (it starts again from the same descriptor) and which those tools report as an error
    /// where they forgive ENOENT. A walk by path that still had the old directory cached is within what cached names
    /// allow (<c>protocol.md</c>, kernel caches) and finds the new one once the invalidation lands.
    /// </summary>
    private static FsError InRemovedDirectory(FsError error) => error == FsError.Stale ? FsError.NoEntry : error;

    /// <summary>
    /// A miss is cached by the kernel as a negative entry (a create anywhere invalidates it), so before trusting one
    /// this node catches up with what was acknowledged elsewhere: a file another node closed a moment ago is found.
    /// </summary>
    private async ValueTask<FuseResult<EntryReply>> LookupMissAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name)
    {
        await _meta.ReadBarrierAsync(ctx.Cancellation);
        var fileName = FileName.FromBytes(name.Span);
        var (error, inode) = _meta.Current.Lookup(parent, fileName);
        if (error == FsError.NoEntry)
        {
            // Recorded before the answer (a full fence: ConcurrentDictionary's lock), then read again: a name created
            // elsewhere before this read is answered found, one created after it finds the answer recorded and is
            // invalidated (see NegativeAnswers, CacheInvalidator).
            _negativeAnswers.Given(parent, fileName);
            (error, inode) = _meta.Current.Lookup(parent, fileName);
            if (error == FsError.NoEntry) return NegativeEntry();
        }
        return inode is null ? Fail<EntryReply>(InRemovedDirectory(error)) : Entry(inode);
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
        // The umask and the directory's default ACL are applied by the holder, against the directory as it is then.
        var create = new CreateNode(parent, FileName.FromBytes(name.Span), mode, umask, ctx.Uid, ctx.Gid, rdev, target?.ToArray());
        var result = await CommitAsync(ctx, create);
        if (!result.Ok) return Fail<EntryReply>(result.Error);
        return Entry(result.State.Find(result.Effect.Ino)!);
    }

    public override ValueTask<int> UnlinkAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name) => RemoveAsync(ctx, parent, name, directory: false);

    public override ValueTask<int> RmDirAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name) => RemoveAsync(ctx, parent, name, directory: true);

    private async ValueTask<int> RemoveAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, bool directory)
    {
        // A file nobody here holds open can go in the same mutation as its last name (one commit instead of two), unless
        // another member may hold it open.
        var fileName = FileName.FromBytes(name.Span);
        var before = _meta.Current;
        var result = await CommitAsync(ctx, new RemoveEntry(parent, fileName, directory, NotOpenHere(parent, fileName)));
        if (!result.Ok) return Errno(InRemovedDirectory(result.Error));
        KeepUnlinkedDirectories(before, result, parent);
        if (result.Effect.Removed.Contains(result.Effect.Ino)) _contents.Discard(result.Effect.Ino);
        else if (!directory) await ReclaimIfOrphanAsync(ctx, result.Effect.Ino);
        return 0;
    }

    public override async ValueTask<int> RenameAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, ulong newParent, ReadOnlyMemory<byte> newName, uint flags)
    {
        var target = FileName.FromBytes(newName.Span);
        var before = _meta.Current;
        var result = await CommitAsync(ctx, new Rename(parent, FileName.FromBytes(name.Span), newParent, target, flags, NotOpenHere(newParent, target)));
        if (!result.Ok) return Errno(result.Error);
        KeepUnlinkedDirectories(before, result, newParent);
        foreach (var ino in result.Effect.Removed) _contents.Discard(ino);
        foreach (var ino in result.Effect.Orphaned) await ReclaimIfOrphanAsync(ctx, ino);
        return 0;
    }

    public override async ValueTask<FuseResult<EntryReply>> LinkAsync(FuseContext ctx, ulong ino, ulong newParent, ReadOnlyMemory<byte> newName)
    {
        var result = await CommitAsync(ctx, new Link(ino, newParent, FileName.FromBytes(newName.Span)));
        return result.Ok ? Entry(result.State.Find(ino)!) : Fail<EntryReply>(result.Error);
    }

    /// <summary>
    /// The file <paramref name="parent"/>/<paramref name="name"/> names in this node's view, when this node holds it
    /// open nowhere. Only a hint: if the name points elsewhere by the time the mutation applies, that file is treated
    /// as possibly open here, and released afterwards.
    /// </summary>
    private ulong[]? NotOpenHere(ulong parent, FileName name) =>
        _meta.Current.Lookup(parent, name).Inode is { IsDirectory: false } target && !IsOpen(target.Ino) ? [target.Ino] : null;

    public override ValueTask<FuseResult<byte[]>> ReadLinkAsync(FuseContext ctx, ulong ino)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return ValueTask.FromResult(Fail<byte[]>(FsError.Stale));
        return ValueTask.FromResult(inode.SymlinkTarget is { } target ? target : Fail<byte[]>(FsError.Invalid));
    }
}
