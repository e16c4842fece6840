using System.Runtime.InteropServices;
using DinoMesh.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The log's reserve: disk blocks allocated ahead of the newest segment's end (<c>fallocate(FALLOC_FL_KEEP_SIZE)</c>,
/// so the file's size and the scan at open are unchanged), always at least <see cref="Reserve"/> bytes past the
/// records. While the disk has room the allocation is topped up as the segment grows. Once the disk is full, an
/// ordinary append that would eat into the reserve is refused with ENOSPC, while an append that lets the user free
/// space (unlink, rmdir, truncate to zero, rename) may use it: a 100 % full volume can still be emptied from inside,
/// much as ext4 keeps blocks for root. Appends never need a new block while they fit in the allocation, so nothing
/// else on the disk (chunks, other programs) can take the reserve away.
/// <para>On a filesystem without fallocate the reserve does not exist and appends behave as before.</para>
/// </summary>
internal sealed class SegmentRoom
{
    private readonly SafeFileHandle _file;
    private readonly string _path;
    private long _allocated;
    private bool _unsupported;

    /// <param name="length">The bytes the segment holds; blocks allocated past them are found with statx.</param>
    public SegmentRoom(SafeFileHandle file, string path, long length, long reserve)
    {
        _file = file;
        _path = path;
        Reserve = reserve;
        _unsupported = reserve == 0;
        _allocated = Math.Max(length, AllocatedBytes());
    }

    /// <summary>Bytes kept for appends that free space.</summary>
    public long Reserve { get; }

    /// <summary>Allocation grows in steps, not at every append.</summary>
    private long Step => Math.Max(64 * 1024, Reserve / 4);

    /// <summary>
    /// Makes sure an append of <paramref name="size"/> bytes after <paramref name="length"/> fits in allocated blocks,
    /// with the reserve still free after it unless <paramref name="mayUseReserve"/>. Throws
    /// <see cref="LogFullException"/> when the disk is full and the append may not (or cannot) go in.
    /// </summary>
    public void Ensure(long length, long size, bool mayUseReserve)
    {
        if (_unsupported) return;
        long need = length + size;
        if (need + Reserve <= _allocated) return;
        int errno = Allocate(_allocated, need + Reserve + Step - _allocated);
        if (errno == 0)
        {
            _allocated = need + Reserve + Step;
            return;
        }
        if (errno is LibC.EOPNOTSUPP or LibC.ENOSYS)
        {
            _unsupported = true;
            return;
        }
        if (errno is not (LibC.ENOSPC or LibC.EDQUOT))
            throw new IOException($"metadata log {_path}: fallocate failed: {LibC.Describe(errno)}", errno);
        // A failed fallocate may still have allocated part of the range.
        _allocated = Math.Max(_allocated, AllocatedBytes());
        if (need + Reserve <= _allocated || (mayUseReserve && need <= _allocated)) return;
        throw new LogFullException(mayUseReserve
            ? $"metadata log {_path}: no space left on device (the reserve for deletions is used up too)"
            : $"metadata log {_path}: no space left on device (the last {Reserve >> 10} KiB of the log are kept for unlink, rmdir, truncate and rename)");
    }

    /// <summary>Allocates the reserve of a new segment before its header is written; throws <see cref="LogFullException"/> on a full disk.</summary>
    public void AllocateInitial()
    {
        if (_unsupported) return;
        int errno = Allocate(0, Reserve + Step);
        if (errno == 0) _allocated = Reserve + Step;
        else if (errno is LibC.EOPNOTSUPP or LibC.ENOSYS) _unsupported = true;
        else if (errno is LibC.ENOSPC or LibC.EDQUOT) throw new LogFullException($"metadata log {_path}: no space left on device for a new segment");
        else throw new IOException($"metadata log {_path}: fallocate failed: {LibC.Describe(errno)}", errno);
    }

    /// <summary>After a failed write was cut off, blocks past the new end are gone too.</summary>
    public void CutTo(long length) => _allocated = Math.Max(length, AllocatedBytes());

    /// <summary>Gives back what was allocated past <paramref name="length"/> (a segment the log moved on from). Best effort.</summary>
    public void Release(long length)
    {
        if (_unsupported || _allocated <= length) return;
        _ = WithFd(fd => LibC.Fallocate(fd, LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE, length, _allocated - length));
        _allocated = length;
    }

    private int Allocate(long offset, long length) =>
        WithFd(fd => LibC.Fallocate(fd, LibC.FALLOC_FL_KEEP_SIZE, offset, length) == 0 ? 0 : Marshal.GetLastPInvokeError());

    /// <summary>Bytes of disk the file holds (st_blocks × 512); a segment has no holes, so this is where its allocation ends.</summary>
    private unsafe long AllocatedBytes() => WithFd(fd =>
    {
        const int BlocksOffset = 48;
        byte* buffer = stackalloc byte[256];
        if (LibC.Statx(fd, "", LibC.AT_EMPTY_PATH, LibC.STATX_BLOCKS, buffer) != 0) return 0L;
        return *(long*)(buffer + BlocksOffset) * 512;
    });

    private T WithFd<T>(Func<int, T> call)
    {
        bool added = false;
        try
        {
            _file.DangerousAddRef(ref added);
            return call((int)_file.DangerousGetHandle());
        }
        finally
        {
            if (added) _file.DangerousRelease();
        }
    }
}
