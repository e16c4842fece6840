using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Fuse;
using Google.Protobuf;

namespace DinoMesh.Volume;

// Attributes and file contents: getattr/setattr, open/create, read/write, flush/release/fsync, fallocate, lseek.
public sealed partial class DinoFileSystem
{
    private const int OAccMode = 3, OWrOnly = 1, ORdWr = 2, OCreat = 0x40, OExcl = 0x80, OTrunc = 0x200;

    public override ValueTask<FuseResult<AttrReply>> GetAttrAsync(FuseContext ctx, ulong ino, ulong? fileHandle)
    {
        var inode = _meta.Current.Find(ino);
        return ValueTask.FromResult(inode is null ? Fail<AttrReply>(FsError.Stale) : new AttrReply(Attributes(inode), _options.AttrTimeout));
    }

    public override async ValueTask<FuseResult<AttrReply>> SetAttrAsync(FuseContext ctx, ulong ino, SetAttrRequest request)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return Fail<AttrReply>(FsError.Stale);
        var valid = request.Valid;
        if (valid.HasFlag(SetAttrValid.Size))
        {
            if (inode.IsDirectory) return Fail<AttrReply>(FsError.IsADirectory);
            if (!inode.IsRegular) return Fail<AttrReply>(FsError.Invalid);
            // Staged bytes past the new size are cut before the flush: a truncate must not first commit (or fail to
            // store) what it throws away, so truncating to zero works even when the disk is full.
            _contents.Truncate(ino, (long)request.Size);
        }
        // Staged writes land first: their commit stamps mtime, which must not override a time set here (cp -a, tar).
        var flushed = await FlushInodeAsync(ctx, ino);
        if (flushed != FsError.None) return Fail<AttrReply>(flushed);
        var set = new SetAttributes { Ino = ino };
        if (valid.HasFlag(SetAttrValid.Mode)) set.Mode = request.Mode;
        if (valid.HasFlag(SetAttrValid.Uid)) set.Uid = request.Uid;
        if (valid.HasFlag(SetAttrValid.Gid)) set.Gid = request.Gid;
        if (valid.HasFlag(SetAttrValid.KillSuidGid) && !valid.HasFlag(SetAttrValid.Mode))
        {
            // Group-exec decides whether setgid means "mandatory locking" (kept) or privilege (dropped), as in the kernel.
            var kill = FileMode.SetUid | ((inode.Mode & 0x8) != 0 ? FileMode.SetGid : 0);
            if ((inode.Mode & kill) != 0) set.Mode = inode.Mode & ~kill & FileMode.PermissionMask;
        }
        var now = _clock.NowNs();
        if (valid.HasFlag(SetAttrValid.ATime)) set.AtimeNs = valid.HasFlag(SetAttrValid.ATimeNow) ? now : Join(request.ATimeSec, request.ATimeNsec);
        else if (valid.HasFlag(SetAttrValid.ATimeNow)) set.AtimeNs = now;
        if (valid.HasFlag(SetAttrValid.MTime)) set.MtimeNs = valid.HasFlag(SetAttrValid.MTimeNow) ? now : Join(request.MTimeSec, request.MTimeNsec);
        else if (valid.HasFlag(SetAttrValid.MTimeNow)) set.MtimeNs = now;
        if (valid.HasFlag(SetAttrValid.CTime)) set.CtimeNs = Join(request.CTimeSec, request.CTimeNsec);
        if (valid.HasFlag(SetAttrValid.Size)) set.Size = request.Size;
        var mutation = new Mutation { SetAttributes = set, TimeNs = now };
        var result = await CommitAsync(ctx, mutation);
        return result.Ok ? new AttrReply(Attributes(result.State.Find(ino)!), _options.AttrTimeout) : Fail<AttrReply>(result.Error);
    }

    public override async ValueTask<FuseResult<OpenReply>> OpenAsync(FuseContext ctx, ulong ino, int flags)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return Fail<OpenReply>(FsError.Stale);
        if (inode.IsDirectory && (flags & OAccMode) != 0) return Fail<OpenReply>(FsError.IsADirectory);
        if ((flags & OTrunc) != 0 && (flags & OAccMode) is OWrOnly or ORdWr && inode.IsRegular)
        {
            var truncated = await TruncateToZeroAsync(ctx, inode);
            if (truncated != FsError.None) return Fail<OpenReply>(truncated);
        }
        Opened(ino);
        // The page cache stays valid across opens: this node sees every local change, and a change from a peer
        // arrives with an explicit invalidation.
        return new OpenReply(AddHandle(new OpenHandle(ino, flags)), OpenReplyFlags.KeepCache);
    }

    private async ValueTask<FsError> TruncateToZeroAsync(FuseContext ctx, Inode inode)
    {
        await _contents.DiscardAfterCommitsAsync(inode.Ino);
        // Read again: a background commit of staged writes may have landed meanwhile.
        if (_meta.Current.Find(inode.Ino) is not { Size: > 0 }) return FsError.None;
        var result = await CommitAsync(ctx, new Mutation { SetAttributes = new SetAttributes { Ino = inode.Ino, Size = 0 } });
        return result.Error;
    }

    public override async ValueTask<FuseResult<CreateReply>> CreateAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, int flags, uint umask)
    {
        var entry = await CreateNodeAsync(ctx, parent, name, FileMode.Regular | (mode & FileMode.PermissionMask), umask, 0, null);
        if (entry.Errno == (int)FsError.Exists && (flags & OExcl) == 0)
        {
            // Lost a race with another creator: O_CREAT without O_EXCL opens what is there.
            var (error, existing) = _meta.Current.Lookup(parent, FileName.FromBytes(name.Span));
            if (existing is null) return Fail<CreateReply>(error);
            if (existing.IsDirectory) return Fail<CreateReply>(FsError.IsADirectory);
            var opened = await OpenAsync(ctx, existing.Ino, flags & ~(OCreat | OExcl));
            return opened.Ok ? new CreateReply(Entry(existing), opened.Value) : Fail<CreateReply>((FsError)opened.Errno);
        }
        if (!entry.Ok) return FuseResult<CreateReply>.Fail(entry.Errno);
        Opened(entry.Value.NodeId);
        var fh = AddHandle(new OpenHandle(entry.Value.NodeId, flags));
        return new CreateReply(entry.Value, new OpenReply(fh, OpenReplyFlags.KeepCache));
    }

    public override ValueTask<FuseResult<int>> ReadAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, Memory<byte> buffer)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return ValueTask.FromResult(Fail<int>(FsError.Stale));
        if (!inode.IsRegular) return ValueTask.FromResult(Fail<int>(inode.IsDirectory ? FsError.IsADirectory : FsError.Invalid));
        var (error, count) = _contents.Read(inode, offset, buffer.Span);
        return ValueTask.FromResult(error == FsError.None ? count : Fail<int>(error));
    }

    public override ValueTask<FuseResult<int>> WriteAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, ReadOnlyMemory<byte> data, uint writeFlags)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return ValueTask.FromResult(Fail<int>(FsError.Stale));
        if (!inode.IsRegular) return ValueTask.FromResult(Fail<int>(FsError.Invalid));
        var error = _contents.Write(ino, offset, data.Span, _clock.NowNs());
        return ValueTask.FromResult(error == FsError.None ? data.Length : Fail<int>(error));
    }

    public override async ValueTask<int> FlushAsync(FuseContext ctx, ulong ino, ulong fileHandle, ulong lockOwner) =>
        Errno(await FlushInodeAsync(ctx, ino));

    public override async ValueTask<int> ReleaseAsync(FuseContext ctx, ulong ino, ulong fileHandle, int flags)
    {
        var error = await FlushInodeAsync(ctx, ino);
        if (_handles.TryRemove(fileHandle, out _)) await ClosedAsync(ctx, ino);
        return Errno(error);
    }

    public override async ValueTask<int> FsyncAsync(FuseContext ctx, ulong ino, ulong fileHandle, bool dataOnly)
    {
        var error = await FlushInodeAsync(ctx, ino);
        if (error != FsError.None) return Errno(error);
        return Errno(await _meta.SyncAsync(ctx.Cancellation));
    }

    /// <summary>Commits the inode's staged writes as one range-based mutation.</summary>
    private ValueTask<FsError> FlushInodeAsync(FuseContext ctx, ulong ino)
    {
        if (!_contents.HasStaged(ino)) return ValueTask.FromResult(FsError.None);
        return _contents.FlushAsync(ino, async mutation => (await CommitAsync(ctx, mutation)).Error);
    }

    public override async ValueTask<int> FallocateAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, long length, int mode)
    {
        const int keepSize = 1;
        if (offset < 0 || length <= 0) return Errno(FsError.Invalid);
        if (mode is not (0 or keepSize)) return Errno(FsError.NotSupported);
        var inode = _meta.Current.Find(ino);
        if (inode is null) return Errno(FsError.Stale);
        if (!inode.IsRegular) return Errno(inode.IsDirectory ? FsError.IsADirectory : FsError.NotSupported);
        if (length > FileSystemState.MaxFileSize - offset) return Errno(FsError.TooBig);
        // Chunks are made on write, so there is nothing to reserve; mode 0 only has to extend the size.
        if (mode == keepSize || offset + length <= _contents.VisibleSize(inode)) return 0;
        var flushed = await FlushInodeAsync(ctx, ino);
        if (flushed != FsError.None) return Errno(flushed);
        var result = await CommitAsync(ctx, new Mutation { SetAttributes = new SetAttributes { Ino = ino, Size = (ulong)(offset + length) } });
        return Errno(result.Error);
    }

    public override async ValueTask<FuseResult<long>> LseekAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, int whence)
    {
        const int seekData = 3, seekHole = 4;
        if (whence is not (seekData or seekHole)) return Fail<long>(FsError.Invalid);
        var flushed = await FlushInodeAsync(ctx, ino);
        if (flushed != FsError.None) return Fail<long>(flushed);
        var inode = _meta.Current.Find(ino);
        if (inode is null) return Fail<long>(FsError.Stale);
        const int enxio = 6;
        if (offset < 0 || offset >= inode.Size) return FuseResult<long>.Fail(enxio);
        if (whence == seekHole) return inode.Extents.NextHole(offset, inode.Size);
        var data = inode.Extents.NextData(offset);
        return data < 0 || data >= inode.Size ? FuseResult<long>.Fail(enxio) : data;
    }
}
