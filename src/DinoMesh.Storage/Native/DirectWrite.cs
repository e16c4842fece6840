using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Native;

/// <summary>
/// Writes a new file opened with O_DIRECT (<see cref="NewFile.CreateExclusive(string, uint, ref bool)"/>): its whole
/// pages go from page-aligned memory to the device, with no page-cache pages to allocate, fill, write back and drop;
/// a tail shorter than a page (O_DIRECT takes whole blocks only) is written through the page cache after it. The call
/// returns once the device has the pages (no device cache flush: durability is still the store's syncfs).
/// </summary>
internal static class DirectWrite
{
    public const int Page = 4096;

    /// <summary>
    /// Writes <paramref name="content"/> at offset 0: its whole pages from <paramref name="pages"/> (page-aligned, the
    /// same bytes as <paramref name="content"/>'s whole pages, possibly <paramref name="content"/> itself) with O_DIRECT,
    /// then the rest through the page cache. False when the file system refuses direct I/O at the first write
    /// (EINVAL): nothing was written and the handle is out of direct mode, for the caller to write it buffered.
    /// </summary>
    /// <exception cref="IOException">Any other failure, with the errno as its HResult (ENOSPC, ...).</exception>
    public static unsafe bool TryWriteAll(SafeFileHandle handle, ReadOnlySpan<byte> pages, ReadOnlySpan<byte> content)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            int total = 0;
            fixed (byte* p = pages)
            {
                if ((nint)p % Page != 0 || pages.Length % Page != 0) throw new ArgumentException("not whole aligned pages", nameof(pages));
                while (total < pages.Length)
                {
                    nint n = LibC.Pwrite(fd, p + total, (nuint)(pages.Length - total), total);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == LibC.EINTR) continue;
                        if (errno == LibC.EINVAL && total == 0)
                        {
                            Buffered(fd);
                            return false;
                        }
                        throw new IOException($"cannot write a new file: {LibC.Describe(errno)}", errno);
                    }
                    if (n == 0) throw new IOException("write to a new file took no bytes", LibC.ENOSPC);
                    total += (int)n;
                    // A short write that ends inside a page (a full disk, say) leaves the rest to the page cache.
                    if (total % Page != 0) break;
                }
            }
            if (total == content.Length) return true;
            // The tail: O_DIRECT cannot write part of a block, so the handle leaves direct mode for it (one page of
            // the cache, written back by the kernel like any small file).
            Buffered(fd);
            fixed (byte* c = content)
            {
                while (total < content.Length)
                {
                    nint n = LibC.Pwrite(fd, c + total, (nuint)(content.Length - total), total);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == LibC.EINTR) continue;
                        throw new IOException($"cannot write a new file: {LibC.Describe(errno)}", errno);
                    }
                    if (n == 0) throw new IOException("write to a new file took no bytes", LibC.ENOSPC);
                    total += (int)n;
                }
            }
            return true;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>Out of direct mode: F_SETFL sets the status flags whole, and a new file's handle has no other.</summary>
    private static void Buffered(int fd) => LibC.Fcntl(fd, LibC.F_SETFL, 0);
}
