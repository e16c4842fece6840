using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Native;

/// <summary>
/// What changes when a file's content may have changed: any write moves ctime (and mtime), a replacement moves the inode,
/// a truncation the length. Used to decide whether an earlier hash verification still holds.
/// </summary>
internal readonly record struct FileIdentity(long Length, long ModifiedNs, long ChangedNs, ulong Inode)
{
    private const int StatxSize = 256;
    private const int InodeOffset = 32, SizeOffset = 40, CtimeOffset = 96, MtimeOffset = 112;

    /// <summary>Stat the open file itself (not its path), so the identity belongs to the bytes about to be read.</summary>
    public static unsafe FileIdentity Of(SafeFileHandle handle)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            Span<byte> buffer = stackalloc byte[StatxSize];
            fixed (byte* b = buffer)
            {
                if (LibC.Statx((int)handle.DangerousGetHandle(), "", LibC.AT_EMPTY_PATH, LibC.STATX_BASIC_STATS, b) != 0)
                    throw new IOException($"statx failed: {LibC.Describe(Marshal.GetLastPInvokeError())}");
            }
            return Parse(buffer);
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>Stat a path; null when it does not exist.</summary>
    public static unsafe FileIdentity? OfPath(string path)
    {
        Span<byte> buffer = stackalloc byte[StatxSize];
        fixed (byte* b = buffer)
        {
            if (LibC.Statx(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, b) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is LibC.ENOENT or LibC.ENOTDIR) return null;
                throw new IOException($"statx {path} failed: {LibC.Describe(errno)}");
            }
        }
        return Parse(buffer);
    }

    /// <summary>
    /// Whether <paramref name="path"/> names something other than a directory, in one statx; false on any error, as
    /// <see cref="File.Exists"/> answers, which costs a stat and, for a missing file, an lstat as well (two system calls
    /// for every chunk a remote read looks for and does not hold).
    /// </summary>
    public static unsafe bool IsFile(string path)
    {
        byte* buffer = stackalloc byte[StatxSize];
        if (LibC.Statx(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_TYPE, buffer) != 0) return false;
        return (*(ushort*)(buffer + ModeOffset) & FileTypeMask) != DirectoryType;
    }

    private const int ModeOffset = 28;
    private const ushort FileTypeMask = 0xF000, DirectoryType = 0x4000;

    private static FileIdentity Parse(ReadOnlySpan<byte> b) => new(
        MemoryMarshal.Read<long>(b[SizeOffset..]),
        Nanoseconds(b[MtimeOffset..]),
        Nanoseconds(b[CtimeOffset..]),
        MemoryMarshal.Read<ulong>(b[InodeOffset..]));

    private static long Nanoseconds(ReadOnlySpan<byte> timestamp) =>
        MemoryMarshal.Read<long>(timestamp) * 1_000_000_000L + MemoryMarshal.Read<uint>(timestamp[8..]);
}
