using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;

namespace DinoMesh.Volume;

// Attributes and file contents: getattr/setattr, open/create, read/write, flush/release/fsync, lseek.
public sealed partial class DinoFileSystem
{
    private const int OAccMode = 3, OWrOnly = 1, ORdWr = 2, OCreat = 0x40, OExcl = 0x80, OTrunc = 0x200, OAppend = 0x400;

    /// <summary>O_DSYNC (O_SYNC includes it): on a WRITE, the file's or this write's (RWF_DSYNC, RWF_SYNC) ask for durability.</summary>
    private const int ODsync = 0x1000;

    /// <summary>O_DIRECT as the kernel passes it in open flags (asm-generic and x86 differ).</summary>
    private static readonly int ODirect = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture
        is System.Runtime.InteropServices.Architecture.Arm64 ? 0x10000 : 0x4000;

    public override ValueTask<FuseResult<AttrReply>> GetAttrAsync(FuseContext ctx, ulong ino, ulong? fileHandle)
    {
        // A directory removed while open lives on for fstat with nlink 0, as on a local filesystem.
        var inode = _meta.Current.Find(ino) ?? _openDirectories.Gone(ino);
        if (inode is { IsDirectory: true })
        {
            // Marked before the state the reply is made from is read (see DirectoryAttributes).
            _directoryAttributes.Given(ino);
            inode = _meta.Current.Find(ino) ?? inode;
        }
        return ValueTask.FromResult(inode is null ? Fail<AttrReply>(FsError.Stale) : new AttrReply(Attributes(inode), _options.AttrTimeout));
    }

    public override async ValueTask<FuseResult<AttrReply>> SetAttrAsync(FuseContext ctx, ulong ino, SetAttrRequest request)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return Fail<AttrReply>(FsError.Stale);
        // The reply carries the attributes of the state this commit makes, read after this mark (see DirectoryAttributes).
        if (inode.IsDirectory) _directoryAttributes.Given(ino);
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
        var now = _clock.NowNs();
        if (valid.HasFlag(SetAttrValid.ATime) || valid.HasFlag(SetAttrValid.ATimeNow)) _atimes.Forget(ino);
        var set = new SetAttributes(ino)
        {
            Mode = valid.HasFlag(SetAttrValid.Mode) ? request.Mode : null,
            Uid = valid.HasFlag(SetAttrValid.Uid) ? request.Uid : null,
            Gid = valid.HasFlag(SetAttrValid.Gid) ? request.Gid : null,
            // Dropping setuid/setgid is an intent: which bits go depends on the mode when it applies.
            KillSuidGid = valid.HasFlag(SetAttrValid.KillSuidGid) && !valid.HasFlag(SetAttrValid.Mode),
            // A truncate or chown of a non-directory drops file capabilities, by anyone (Linux's ATTR_KILL_PRIV; ours to
            // do under FUSE_HANDLE_KILLPRIV_V2). Dropped if there when it applies.
            KillCapability = !inode.IsDirectory && (valid & (SetAttrValid.Size | SetAttrValid.Uid | SetAttrValid.Gid)) != 0,
            ATimeNs = valid.HasFlag(SetAttrValid.ATime) ? (valid.HasFlag(SetAttrValid.ATimeNow) ? now : Join(request.ATimeSec, request.ATimeNsec))
                : valid.HasFlag(SetAttrValid.ATimeNow) ? now : null,
            MTimeNs = valid.HasFlag(SetAttrValid.MTime) ? (valid.HasFlag(SetAttrValid.MTimeNow) ? now : Join(request.MTimeSec, request.MTimeNsec))
                : valid.HasFlag(SetAttrValid.MTimeNow) ? now : null,
            CTimeNs = valid.HasFlag(SetAttrValid.CTime) ? Join(request.CTimeSec, request.CTimeNsec) : null,
            Size = valid.HasFlag(SetAttrValid.Size) ? request.Size : null,
        };
        var result = await CommitAsync(ctx, set, now);
        return result.Ok ? new AttrReply(Attributes(result.State.Find(ino)!), _options.AttrTimeout) : Fail<AttrReply>(result.Error);
    }

    public override ValueTask<FuseResult<OpenReply>> OpenAsync(FuseContext ctx, ulong ino, int flags) => OpenAsync(ctx, ino, flags, 0);

    /// <summary>An O_TRUNC open truncates here (ATOMIC_O_TRUNC) and drops privileges as a truncate does (<see cref="FuseOpenFlags"/>).</summary>
    public override ValueTask<FuseResult<OpenReply>> OpenAsync(FuseContext ctx, ulong ino, int flags, uint openFlags) =>
        OpenAsync(ctx, ino, flags, openFlags, kernelMayHoldSize: true);

    /// <param name="kernelMayHoldSize">False for a create that found the name taken: the kernel asked to create it, so
    /// it holds no size of it to refresh (<see cref="NeedsFreshSize"/>), and a create is not retried on ESTALE.</param>
    private async ValueTask<FuseResult<OpenReply>> OpenAsync(FuseContext ctx, ulong ino, int flags, uint openFlags, bool kernelMayHoldSize)
    {
        // Close-to-open: what another node closed before this open began is applied here first, and the kernel drops
        // what that made stale (its cached size would otherwise cut the read short, its pages show old bytes).
        // An appender must know the end of the file as committed anywhere: its writes land there (AppendAt).
        if ((flags & OAppend) != 0 && (flags & OAccMode) != 0)
        {
            if (!await _meta.StrictReadBarrierAsync(ctx.Cancellation)) return Fail<OpenReply>(FsError.TimedOut);
        }
        else
        {
            await _meta.ReadBarrierAsync(ctx.Cancellation);
        }
        var inode = _meta.Current.Find(ino);
        if (inode is null) return Fail<OpenReply>(FsError.Stale);
        if (kernelMayHoldSize && NeedsFreshSize(inode, flags)) return Fail<OpenReply>(FsError.Stale);
        var changedElsewhere = ForgetIfChangedElsewhere(ino);
        if (inode.IsDirectory && (flags & OAccMode) != 0) return Fail<OpenReply>(FsError.IsADirectory);
        // Counted before an O_TRUNC: a file whose name went elsewhere is neither opened nor truncated here.
        if (!TryOpened(ino)) return Fail<OpenReply>(FsError.Stale);
        if ((flags & OTrunc) != 0 && (flags & OAccMode) is OWrOnly or ORdWr && inode.IsRegular)
        {
            var truncated = await TruncateToZeroAsync(ctx, inode, (openFlags & FuseOpenFlags.KillSuidGid) != 0);
            if (truncated != FsError.None)
            {
                await ClosedAsync(ctx, ino);
                return Fail<OpenReply>(truncated);
            }
        }
        // The page cache stays valid across opens: this node sees every local change, and a change from a peer
        // arrives with an explicit invalidation. The exceptions: the file changed elsewhere since its last open here
        // (that invalidation may still be queued), or a read through this open is due to move atime, which only a READ
        // that reaches us can do (relatime: once per change of the file). Then the cached pages go.
        var keep = changedElsewhere || ((flags & OAccMode) != OWrOnly && inode.IsRegular && _atimes.IsDue(inode, _clock.NowNs()))
            ? OpenReplyFlags.None
            : OpenReplyFlags.KeepCache;
        return new OpenReply(AddHandle(new OpenHandle(ino, flags)), keep);
    }

    /// <summary>
    /// A regular file another node changed since its last open here, opened for the first time since: the kernel may
    /// still hold its old size, which nothing it does on a read within that size refreshes (without AUTO_INVAL_DATA,
    /// which would also drop the pages of a file this node writes and reads). Reads past the new end then go out
    /// together, and the kernel takes the size from whichever short answer comes first: measured, 12 of 30 files
    /// shrunk on another node read as 3 MiB with zeros past their real end of 2,098,384 bytes (ShrunkElsewhereTests).
    /// So the first open answers ESTALE after dropping the kernel's attributes: the VFS retries the open once with every
    /// name looked up again, the lookup's answer carries the current size, and the retry (<see cref="SizeRefreshes"/>)
    /// opens as before, dropping the cached pages. An O_TRUNC open sets the size itself.
    /// </summary>
    private bool NeedsFreshSize(Inode inode, int flags)
    {
        if (!inode.IsRegular || (flags & OTrunc) != 0 || !_changedElsewhere.Contains(inode.Ino)) return false;
        if (!_sizeRefreshes.Ask(inode.Ino, Environment.TickCount64)) return false;
        _notifier?.InvalidateInode(inode.Ino, -1, 0);
        return true;
    }

    /// <summary>
    /// O_TRUNC: one commit of size 0 and whatever privileges the truncate drops (capabilities always; set-id bits when the
    /// kernel says the caller lacks CAP_FSETID), and none when the file is empty and has nothing to drop.
    /// </summary>
    private async ValueTask<FsError> TruncateToZeroAsync(FuseContext ctx, Inode inode, bool killSuidGid)
    {
        await _contents.DiscardAfterCommitsAsync(inode.Ino);
        // Read again: a background commit of staged writes may have landed meanwhile.
        if (_meta.Current.Find(inode.Ino) is not { } current) return FsError.None;
        var drop = PrivilegesToDrop(current, killSuidGid);
        if (current.Size == 0 && drop is null) return FsError.None;
        var truncate = (drop ?? new SetAttributes(inode.Ino)) with { Size = current.Size > 0 ? 0 : null };
        return drop is null ? (await CommitAsync(ctx, truncate)).Error : await DropPrivilegesAsync(ctx, truncate);
    }

    public override ValueTask<FuseResult<CreateReply>> CreateAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, int flags, uint umask) =>
        CreateAsync(ctx, parent, name, mode, flags, umask, 0);

    public override async ValueTask<FuseResult<CreateReply>> CreateAsync(FuseContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, int flags, uint umask, uint openFlags)
    {
        var entry = await CreateNodeAsync(ctx, parent, name, FileMode.Regular | (mode & FileMode.PermissionMask), umask, 0, null);
        if (entry.Errno == (int)FsError.Exists && (flags & OExcl) == 0)
        {
            // Lost a race with another creator: O_CREAT without O_EXCL opens what is there.
            var (error, existing) = _meta.Current.Lookup(parent, FileName.FromBytes(name.Span));
            if (existing is null) return Fail<CreateReply>(error);
            if (existing.IsDirectory) return Fail<CreateReply>(FsError.IsADirectory);
            var opened = await OpenAsync(ctx, existing.Ino, flags & ~(OCreat | OExcl), openFlags, kernelMayHoldSize: false);
            return opened.Ok ? new CreateReply(Entry(existing), opened.Value) : Fail<CreateReply>((FsError)opened.Errno);
        }
        if (!entry.Ok) return FuseResult<CreateReply>.Fail(entry.Errno);
        Opened(entry.Value.NodeId);
        var fh = AddHandle(new OpenHandle(entry.Value.NodeId, flags));
        return new CreateReply(entry.Value, new OpenReply(fh, OpenReplyFlags.KeepCache));
    }

    public override async ValueTask<FuseResult<int>> ReadAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, Memory<byte> buffer)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return Fail<int>(FsError.Stale);
        if (!inode.IsRegular) return Fail<int>(inode.IsDirectory ? FsError.IsADirectory : FsError.Invalid);
        var (error, count) = await ReadContentsAsync(inode, offset, buffer, ctx.Cancellation);
        if (error == FsError.None) _atimes.Accessed(inode, _clock.NowNs());
        return error == FsError.None ? count : Fail<int>(error);
    }

    /// <summary>A write without the file's flags at write time: those it was opened with stand in for them.</summary>
    public override ValueTask<FuseResult<int>> WriteAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, ReadOnlyMemory<byte> data, uint writeFlags) =>
        WriteAsync(ctx, ino, fileHandle, offset, data, writeFlags, Handle(fileHandle)?.Flags ?? 0);

    /// <summary>
    /// <paramref name="fileFlags"/> are the file's flags at this write, not at its open: fcntl(F_SETFL) switches
    /// O_APPEND and O_DIRECT on an open descriptor, and the kernel's next write follows the switch.
    /// </summary>
    public override ValueTask<FuseResult<int>> WriteAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, ReadOnlyMemory<byte> data, uint writeFlags, int fileFlags)
    {
        var inode = _meta.Current.Find(ino);
        if (inode is null) return ValueTask.FromResult(Fail<int>(FsError.Stale));
        if (!inode.IsRegular) return ValueTask.FromResult(Fail<int>(FsError.Invalid));
        // A write-back from the page cache (mmap, --writeback-cache) lands where the kernel says, whatever handle it
        // picked: it is neither an append nor a direct write.
        var written = (writeFlags & FuseWriteFlags.Cache) == 0 ? fileFlags : 0;
        // New bytes after a failed flush (through a dup'd descriptor, or written back from a mapping) are this handle's
        // to commit at its release, as any others.
        if (Handle(fileHandle) is { FailedFlush: not FsError.None } handle) handle.FailedFlush = FsError.None;
        var append = (written & OAppend) != 0 ? inode : null;
        var direct = (written & ODirect) != 0;
        // Only a file with set-id bits or capabilities pays a commit here; a plain file's writes stay staged.
        var staged = PrivilegesToDrop(inode, (writeFlags & FuseWriteFlags.KillSuidGid) != 0) is { } drop
            ? WriteAfterDroppingAsync(ctx, ino, offset, data, direct, append, drop)
            : Stage(ino, offset, data, direct, append);
        return direct && (written & ODsync) != 0 ? WrittenThroughAsync(ctx, ino, staged) : staged;
    }

    /// <summary>
    /// A data-synchronous O_DIRECT write is durable before it is answered, as an fsync makes it. The kernel follows a
    /// synchronous one with FSYNC itself (as it does every buffered O_DSYNC write, which therefore stays staged here), but
    /// not an asynchronous one that does not extend the file (io_submit, io_uring: fuse_aio_complete completes it without
    /// generic_write_sync): without this, such writes stayed staged in this node's memory, and a kill -9 after they
    /// completed lost them (SyncWriteTests). A synchronous one pays for a second sync, with nothing new in it, when
    /// the kernel's FSYNC follows.
    /// </summary>
    private async ValueTask<FuseResult<int>> WrittenThroughAsync(FuseContext ctx, ulong ino, ValueTask<FuseResult<int>> staged)
    {
        var result = await staged;
        if (!result.Ok) return result;
        var error = await FlushInodeAsync(ctx, ino);
        if (error == FsError.None) error = await SyncAsync(ctx.Cancellation);
        return error == FsError.None ? result : Fail<int>(error);
    }

    /// <summary>
    /// Where an O_APPEND write is staged: the end of the file as this node knows it (<see cref="FileContents.Append"/>).
    /// The kernel appends at its cached size, and without the writeback cache it does not ask for the size before an
    /// append; an open after another node's append and close drops that size (close-to-open) but does not replace it,
    /// so `echo line >> log` taking turns on two nodes wrote each line over the other node's last one (a third of 300
    /// lines lost). When the kernel's offset is not this end, its cached size and the page it just wrote there are
    /// wrong: both are dropped once the write is answered (asynchronously: the kernel holds that page locked until
    /// then). Where the bytes finally land is decided later, in log order (<see cref="WriteExtents.AppendedAt"/>): the
    /// end as this node knows it may be overtaken by another node's append before this one commits
    /// (<see cref="AppendLanded"/>).
    /// </summary>
    private void AppendStaged(ulong ino, long kernelOffset, long offset)
    {
        if (offset != kernelOffset) _invalidator.Enqueue(new Effect { Ino = ino, Touched = [ino], ContentChanged = [ino] });
    }

    /// <summary>As on Linux, privileges go before the bytes land; a write whose drop fails writes nothing.</summary>
    private async ValueTask<FuseResult<int>> WriteAfterDroppingAsync(FuseContext ctx, ulong ino, long offset, ReadOnlyMemory<byte> data, bool direct, Inode? append, SetAttributes drop)
    {
        var dropped = await DropPrivilegesAsync(ctx, drop);
        if (dropped != FsError.None) return Fail<int>(dropped);
        return await Stage(ino, offset, data, direct, append is null ? null : _meta.Current.Find(ino) ?? append);
    }

    /// <param name="append">The inode, for an O_APPEND write: <paramref name="offset"/> (the kernel's) is then only
    /// compared with where the bytes are staged.</param>
    private ValueTask<FuseResult<int>> Stage(ulong ino, long offset, ReadOnlyMemory<byte> data, bool direct, Inode? append)
    {
        FsError error;
        ValueTask room;
        if (append is null) error = _contents.Write(ino, offset, data.Span, _clock.NowNs(), out room);
        else
        {
            error = _contents.Append(append, data.Span, _clock.NowNs(), out room, out var at);
            if (error == FsError.None) AppendStaged(ino, offset, at);
            offset = at;
        }
        if (error != FsError.None) return ValueTask.FromResult(Fail<int>(error));
        if (direct) return DropCachedPagesAsync(ino, offset, data.Length, room);
        if (!room.IsCompleted) return AnsweredWithRoomAsync(room, data.Length);
        room.GetAwaiter().GetResult();
        return ValueTask.FromResult<FuseResult<int>>(data.Length);
    }

    /// <summary>A staged write answered once its file has room again (too many of its blocks were being stored).</summary>
    private static async ValueTask<FuseResult<int>> AnsweredWithRoomAsync(ValueTask room, int length)
    {
        await room;
        return length;
    }

    /// <summary>
    /// An O_DIRECT write bypasses the page cache, and after an asynchronous one (AIO) the kernel does not drop the
    /// pages of its range: a buffered read that raced the write may have cached the old bytes. So the write drops
    /// them itself before it is answered. The notification runs on the thread pool, never on a reader thread: the
    /// kernel waits for pages locked by reads in flight, which need the readers to be answered.
    /// </summary>
    private async ValueTask<FuseResult<int>> DropCachedPagesAsync(ulong ino, long offset, int length, ValueTask room)
    {
        await room;
        if (_notifier is { } notifier) await Task.Run(() => notifier.InvalidateInode(ino, offset, length));
        return length;
    }

    public override async ValueTask<int> FlushAsync(FuseContext ctx, ulong ino, ulong fileHandle, ulong lockOwner)
    {
        var error = await FlushInodeAsync(ctx, ino);
        if (Handle(fileHandle) is { } handle) handle.FailedFlush = error;
        return Errno(error);
    }

    /// <summary>
    /// The kernel sends RELEASE after the last close(2) returned, whatever it returned. When that close's FLUSH failed
    /// to commit (ETIMEDOUT on a minority side), the program was told so and has moved on; committing the same bytes
    /// now, seconds later once the partition healed, would lay them at the offsets they were staged at then, over
    /// whatever other nodes acknowledged since: an O_APPEND line whose close timed out landed over another node's
    /// line appended after it, in its turn, and acknowledged (load/nemesis.py, seeds 1 and 2). So the RELEASE of such a
    /// handle does not commit again, and at the last close the bytes are given up (<c>DropUncommittedAsync</c>).
    /// </summary>
    public override async ValueTask<int> ReleaseAsync(FuseContext ctx, ulong ino, ulong fileHandle, int flags)
    {
        var failed = Handle(fileHandle)?.FailedFlush ?? FsError.None;
        var error = failed != FsError.None ? failed : await FlushInodeAsync(ctx, ino);
        if (_handles.TryRemove(fileHandle, out _)) await ClosedAsync(ctx, ino, error);
        return Errno(error);
    }

    public override async ValueTask<int> FsyncAsync(FuseContext ctx, ulong ino, ulong fileHandle, bool dataOnly)
    {
        var error = await FlushInodeAsync(ctx, ino);
        if (error != FsError.None) return Errno(error);
        await FlushAtimesAsync(ino, ctx.Cancellation);
        return Errno(await SyncAsync(ctx.Cancellation));
    }

    /// <summary>
    /// Commits the inode's staged writes as one range-based mutation. An append whose commit timed out was given up
    /// (<c>FileContents.Unsettled</c>): the kernel may hold its pages, so they are dropped.
    /// </summary>
    private async ValueTask<FsError> FlushInodeAsync(FuseContext ctx, ulong ino)
    {
        if (!_contents.HasStaged(ino)) return _contents.TakeUnsettledAppend(ino);
        var error = await _contents.FlushAsync(ino, async write => (await CommitAsync(ctx, write)).Error);
        if (error == FsError.TimedOut) AppendLanded(ino);
        return error;
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
