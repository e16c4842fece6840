using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Native;

/// <summary>
/// Reads a whole file past the page cache (O_DIRECT, switched on for the open file with fcntl): the device writes into
/// the caller's buffer, with no page-cache pages to allocate and fill and no copy out of them.
/// </summary>
internal static class DirectRead
{
    /// <summary>
    /// The bytes read into <paramref name="buffer"/> (page-aligned, its length a multiple of the page) from offset 0,
    /// until the file ends or the buffer is full; -1 when this file system does not do direct I/O (the caller reads
    /// through the page cache instead). The handle is buffered again afterwards.
    /// </summary>
    public static unsafe int Whole(SafeFileHandle handle, Span<byte> buffer)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            int flags = LibC.Fcntl(fd, LibC.F_GETFL, 0);
            if (flags < 0 || LibC.Fcntl(fd, LibC.F_SETFL, flags | LibC.O_DIRECT) != 0) return -1;
            int total = 0;
            try
            {
                total = ReadAll(fd, buffer);
            }
            finally
            {
                // Back to buffered: the caller may read the same handle again (the SHA-256 check after a mismatch).
                LibC.Fcntl(fd, LibC.F_SETFL, flags);
            }
            return total;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private static unsafe int ReadAll(int fd, Span<byte> buffer)
    {
        int total = 0;
        fixed (byte* p = buffer)
        {
            while (total < buffer.Length)
            {
                nint n = LibC.Pread(fd, p + total, (nuint)(buffer.Length - total), total);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.EINTR) continue;
                    if (errno == LibC.EINVAL && total == 0) return -1;
                    throw new IOException($"direct read failed: {LibC.Describe(errno)}", errno);
                }
                if (n == 0) break;
                total += (int)n;
                // A short read that is not the end of the file would leave the next offset unaligned.
                if (total % 4096 != 0) break;
            }
        }
        return total;
    }
}
