using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;

namespace DinoMesh.Volume;

// fallocate(2): allocation checks, punching holes, zeroing ranges.
public sealed partial class DinoFileSystem
{
    private const int FallocKeepSize = 0x01, FallocPunchHole = 0x02, FallocZeroRange = 0x10;

    /// <summary>
    /// Mode 0 and KEEP_SIZE reserve nothing, because chunks are made (and deduplicated) only when bytes are written:
    /// they check that the range's unallocated bytes fit in the chunk store's free space now, counting what the cache
    /// could give up and asking it to when the disk's own free space is short (ENOSPC when even that cannot make room,
    /// as ext4 answers; <see cref="ChunkAccess.EnsureRoomAsync"/>), and mode 0 then extends the size. The range stays a hole. PUNCH_HOLE and ZERO_RANGE cut the range
    /// out of the extent map, which frees it (holes cost nothing); ZERO_RANGE without KEEP_SIZE also extends the size.
    /// Each is one metadata commit, after the file's staged writes are committed (so none of them lands on the hole).
    /// </summary>
    public override async ValueTask<int> FallocateAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, long length, int mode)
    {
        if (offset < 0 || length <= 0) return Errno(FsError.Invalid);
        if ((mode & ~(FallocKeepSize | FallocPunchHole | FallocZeroRange)) != 0) return Errno(FsError.NotSupported);
        var punch = (mode & FallocPunchHole) != 0;
        var zero = (mode & FallocZeroRange) != 0;
        var keepSize = (mode & FallocKeepSize) != 0;
        if ((punch && (zero || !keepSize))) return Errno(FsError.NotSupported);
        var inode = _meta.Current.Find(ino);
        if (inode is null) return Errno(FsError.Stale);
        if (!inode.IsRegular) return Errno(inode.IsDirectory ? FsError.IsADirectory : FsError.NotSupported);
        if (length > FileSystemState.MaxFileSize - offset) return Errno(FsError.TooBig);
        // As on a local filesystem, any fallocate drops set-id bits (without CAP_FSETID) and capabilities first.
        var dropped = await DropPrivilegesForContentChangeAsync(ctx, ino);
        if (dropped != FsError.None) return Errno(dropped);
        if (punch || zero) return Errno(await ClearRangeAsync(ctx, ino, offset, length, extendTo: keepSize ? 0 : offset + length));

        var unallocated = length - inode.Extents.Overlapping(offset, offset + length).Sum(e => e.Length);
        if (unallocated > 0)
        {
            var room = await _chunks.EnsureRoomAsync(unallocated, ctx.Cancellation);
            if (room != FsError.None) return Errno(room);
        }
        if (keepSize || offset + length <= _contents.VisibleSize(inode)) return 0;
        var flushed = await FlushInodeAsync(ctx, ino);
        if (flushed != FsError.None) return Errno(flushed);
        var result = await CommitAsync(ctx, new SetAttributes(ino, Size: (ulong)(offset + length)));
        return Errno(result.Error);
    }

    /// <summary>Makes [offset, offset+length) a hole in one commit; the file grows to at least <paramref name="extendTo"/>.</summary>
    private async ValueTask<FsError> ClearRangeAsync(FuseContext ctx, ulong ino, long offset, long length, long extendTo)
    {
        var flushed = await FlushInodeAsync(ctx, ino);
        if (flushed != FsError.None) return flushed;
        var write = new WriteExtents(ino, [], (ulong)extendTo, Holes: [new ByteRange(offset, length)]);
        return (await CommitAsync(ctx, write)).Error;
    }
}
