using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Native;

/// <summary>
/// Reads a whole file past the page cache (O_DIRECT, switched on for the open file with fcntl): the device writes into
/// the caller's buffer, with no page-cache pages to allocate and fill and no copy out of them.
/// </summary>
internal static class DirectRead
{
    /// <summary>What <see cref="Whole"/> answers when the file system does not do direct I/O.</summary>
    public const int Refused = -1;

    /// <summary>What <see cref="Whole"/> answers when the buffer is not page-aligned (nothing was read).</summary>
    public const int Unaligned = -2;

    /// <summary>
    /// The bytes read into <paramref name="buffer"/> from offset 0, until the file ends or the buffer is full;
    /// <see cref="Refused"/> when this file system does not do direct I/O (the caller reads through the page cache
    /// instead), <see cref="Unaligned"/> when the buffer does not start on a page or is not a whole number of pages
    /// (checked while the buffer is pinned for the read, so memory the GC may move is judged where it is read). After
    /// a read the handle is left in direct mode: a chunk's handle is closed right after its one read, and switching
    /// back would cost a system call per chunk for nothing; a caller that reads the same handle through the page cache
    /// afterwards calls <see cref="Buffered"/> first. <paramref name="openedDirect"/>: the handle was opened with
    /// O_DIRECT, and needs no fcntl (a refused read still leaves it buffered).
    /// </summary>
    public static unsafe int Whole(SafeFileHandle handle, Span<byte> buffer, bool openedDirect = false)
    {
        fixed (byte* p = buffer)
        {
            if ((nint)p % Page != 0 || buffer.Length % Page != 0) return Unaligned;
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                int fd = (int)handle.DangerousGetHandle();
                // A handle opened with O_DIRECT (ReadOnlyFile.Open(path, ref direct)) is in direct mode already.
                int flags = openedDirect ? -1 : LibC.Fcntl(fd, LibC.F_GETFL, 0);
                if (!openedDirect && (flags < 0 || LibC.Fcntl(fd, LibC.F_SETFL, flags | LibC.O_DIRECT) != 0)) return Refused;
                int read = ReadAll(fd, p, buffer.Length);
                // Refused: the caller reads through the page cache next, on this very handle.
                if (read == Refused)
                {
                    if (openedDirect) Buffered(fd);
                    else LibC.Fcntl(fd, LibC.F_SETFL, flags);
                }
                return read;
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
        }
    }

    /// <summary>Takes the handle out of direct mode (after <see cref="Whole"/>, or opened so), for reads through the page cache.</summary>
    public static void Buffered(SafeFileHandle handle)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            Buffered((int)handle.DangerousGetHandle());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private static void Buffered(int fd)
    {
        int flags = LibC.Fcntl(fd, LibC.F_GETFL, 0);
        if (flags >= 0 && (flags & LibC.O_DIRECT) != 0) LibC.Fcntl(fd, LibC.F_SETFL, flags & ~LibC.O_DIRECT);
    }

    private const int Page = 4096;

    private static unsafe int ReadAll(int fd, byte* p, int length)
    {
        int total = 0;
        while (total < length)
        {
            nint n = LibC.Pread(fd, p + total, (nuint)(length - total), total);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == LibC.EINTR) continue;
                if (errno == LibC.EINVAL && total == 0) return Refused;
                throw new IOException($"direct read failed: {LibC.Describe(errno)}", errno);
            }
            if (n == 0) break;
            total += (int)n;
            // A short read that is not the end of the file would leave the next offset unaligned.
            if (total % Page != 0) break;
        }
        return total;
    }
}
