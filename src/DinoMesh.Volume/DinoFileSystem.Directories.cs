using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;

namespace DinoMesh.Volume;

// Directory listing, statfs, access.
public sealed partial class DinoFileSystem
{
    private static readonly byte[] Dot = "."u8.ToArray();
    private static readonly byte[] DotDot = ".."u8.ToArray();

    public override async ValueTask<FuseResult<OpenReply>> OpenDirAsync(FuseContext ctx, ulong ino, int flags)
    {
        // A listing shows every entry whose creation was acknowledged, on any node, before the directory was opened.
        await _meta.ReadBarrierAsync(ctx.Cancellation);
        var inode = _meta.Current.Find(ino);
        if (inode is null) return Fail<OpenReply>(FsError.Stale);
        if (!inode.IsDirectory) return Fail<OpenReply>(FsError.NotADirectory);
        var handle = new OpenHandle(ino, flags) { Listing = Listing(inode) };
        _openDirectories.Opened(inode);
        return new OpenReply(AddHandle(handle), OpenReplyFlags.None);
    }

    private static (byte[] Name, ulong Ino)[] Listing(Inode dir)
    {
        var listing = new (byte[], ulong)[dir.Entries.Count + 2];
        listing[0] = (Dot, dir.Ino);
        listing[1] = (DotDot, dir.Parent);
        var i = 2;
        foreach (var (name, child) in dir.Entries) listing[i++] = (name.ToBytes(), child);
        return listing;
    }

    public override ValueTask<int> ReadDirAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, DirectoryWriter writer)
    {
        var state = _meta.Current;
        var dir = state.Find(ino);
        // Removed since it was opened (on another node; this node's own rmdir makes the kernel stop asking): no entries
        // left, as Linux lists a removed directory, where ESTALE failed the walk of rm -rf, find or tar.
        if (dir is null) return ValueTask.FromResult(0);
        _atimes.Accessed(dir, _clock.NowNs());
        var handle = Handle(fileHandle);
        // Offsets index the listing taken at opendir; offset 0 (rewinddir) takes a fresh one.
        if (handle is null || offset == 0 || handle.Listing is null)
        {
            handle ??= new OpenHandle(ino, 0);
            handle.Listing = Listing(dir);
        }
        var listing = handle.Listing;
        for (var i = (int)Math.Max(0, offset); i < listing.Length; i++)
        {
            var (name, child) = listing[i];
            var isDotOrDotDot = i < 2;
            var inode = isDotOrDotDot ? state.Find(child) ?? dir : state.Find(child);
            if (inode is null) continue;  // removed since opendir
            EntryReply? entry = writer.IsPlus && !isDotOrDotDot ? Entry(inode) : null;
            if (!writer.TryAdd(new DirectoryEntry(name, inode.Ino, inode.Mode, i + 1), entry)) break;
        }
        return ValueTask.FromResult(0);
    }

    public override ValueTask<int> ReleaseDirAsync(FuseContext ctx, ulong ino, ulong fileHandle)
    {
        if (_handles.TryRemove(fileHandle, out _)) _openDirectories.Closed(ino);
        return ValueTask.FromResult(0);
    }

    /// <summary>
    /// Keeps the last attributes of directories that a commit removed while they were open here, with nlink 0 and the
    /// removal's ctime, so fstat on an open descriptor answers as on a local filesystem until it is closed.
    /// </summary>
    private void KeepUnlinkedDirectories(FileSystemState before, ApplyResult result, ulong parent)
    {
        foreach (var ino in result.Effect.Removed)
        {
            if (!_openDirectories.IsOpen(ino) || before.Find(ino) is not { IsDirectory: true } dir) continue;
            var ctime = result.State.Find(parent)?.CTime ?? dir.CTime;
            _openDirectories.RemovedHere(dir with { NLink = 0, CTime = ctime });
            _atimes.Forget(ino);
        }
    }

    public override async ValueTask<int> FsyncDirAsync(FuseContext ctx, ulong ino, ulong fileHandle, bool dataOnly)
    {
        return Errno(await SyncAsync(ctx.Cancellation));
    }

    public override ValueTask<FuseResult<StatFsReply>> StatFsAsync(FuseContext ctx, ulong ino)
    {
        // df: used = the volume's own stored bytes, available = free space under the data directory and what the cache
        // could give up (cached chunks other members hold: a write gets that space on demand), capped by what the disk
        // holds (ChunkDiskSpace); size = used and available together. Free and available are equal, so the host disk's
        // reserved blocks never show up as used. The free space may be up to FreeSpaceGauge.MaxAge old (one statvfs per
        // file opened was a cost of every small file); the cache's count is a field read, counted after each sweep.
        const uint blockSize = 4096;
        var state = _meta.Current;
        var used = (ulong)state.StoredBytes / blockSize;
        var (total, disk) = _freeSpace.Disk();
        var free = (ulong)new ChunkDiskSpace(total, disk, _chunks.Evictable).Available / blockSize;
        var files = (ulong)state.Inodes.Count;
        const ulong fileLimit = 1UL << 32;
        return ValueTask.FromResult<FuseResult<StatFsReply>>(new StatFsReply(
            used + free, free, free, fileLimit, fileLimit - files, blockSize, FileName.MaxBytes, blockSize));
    }

    public override ValueTask<int> AccessAsync(FuseContext ctx, ulong ino, int mask) =>
        // With default_permissions the kernel has already checked the mode bits and ACLs.
        ValueTask.FromResult(_meta.Current.Find(ino) is null ? Errno(FsError.Stale) : 0);
}
