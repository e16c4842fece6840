using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Native;

/// <summary>
/// Writes a whole new file past the page cache (O_DIRECT, switched on for the open file with fcntl): the device reads
/// the caller's buffer, with no page-cache pages to allocate, fill, write back and drop afterwards. Like a buffered
/// write it makes nothing durable by itself (the device may still cache it, the file's size and extents are metadata):
/// the store's sync points do that, as for every other chunk.
/// </summary>
internal static class DirectWrite
{
    /// <summary>
    /// Writes all of <paramref name="content"/> (page-aligned, its length a multiple of the page) at offset 0; false,
    /// with nothing written, when this file system does not do direct I/O (the caller writes through the page cache
    /// instead). The handle is buffered again afterwards. Other failures (ENOSPC, EIO) throw <see cref="IOException"/>
    /// with the errno in its HResult, as <see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/> does.
    /// </summary>
    public static unsafe bool Whole(SafeFileHandle handle, ReadOnlySpan<byte> content)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            int flags = LibC.Fcntl(fd, LibC.F_GETFL, 0);
            if (flags < 0 || LibC.Fcntl(fd, LibC.F_SETFL, flags | LibC.O_DIRECT) != 0) return false;
            try
            {
                return WriteAll(fd, content);
            }
            finally
            {
                LibC.Fcntl(fd, LibC.F_SETFL, flags);
            }
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private static unsafe bool WriteAll(int fd, ReadOnlySpan<byte> content)
    {
        int total = 0;
        fixed (byte* p = content)
        {
            while (total < content.Length)
            {
                nint n = LibC.Pwrite(fd, p + total, (nuint)(content.Length - total), total);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.EINTR) continue;
                    if (errno == LibC.EINVAL && total == 0) return false;
                    throw new IOException($"direct write failed: {LibC.Describe(errno)}", errno);
                }
                total += (int)n;
                // A short write would leave the next offset unaligned: finish through the page cache.
                if (total < content.Length && total % 4096 != 0)
                {
                    LibC.Fcntl(fd, LibC.F_SETFL, LibC.Fcntl(fd, LibC.F_GETFL, 0) & ~LibC.O_DIRECT);
                }
            }
        }
        return true;
    }
}
