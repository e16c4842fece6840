using System.Runtime.InteropServices;

namespace DinoMesh.Node.Tests.Support;

/// <summary>Syscalls that answer an errno instead of throwing, for tests that check which errno a mount gives.</summary>
public static partial class Fs
{
    public const int EINTR = 4, EEXIST = 17, ETIMEDOUT = 110;

    /// <summary>mkdir(2): 0 or the errno.</summary>
    public static int Mkdir(string path, int mode = 0x1ED) => mkdir(path, (uint)mode) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>open(O_CREAT|O_EXCL|O_WRONLY), write, close: 0 or the first errno.</summary>
    public static int CreateExclusive(string path, ReadOnlySpan<byte> content)
    {
        const int O_WRONLY = 1, O_CREAT = 0x40, O_EXCL = 0x80;
        var fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0x1A4);
        if (fd < 0) return Marshal.GetLastPInvokeError();
        var error = 0;
        unsafe
        {
            fixed (byte* p = content)
            {
                if (write(fd, p, (nint)content.Length) < 0) error = Marshal.GetLastPInvokeError();
            }
        }
        if (close(fd) != 0 && error == 0) error = Marshal.GetLastPInvokeError();
        return error;
    }

    /// <summary>
    /// copy_file_range(2) of [<paramref name="offsetIn"/>, +<paramref name="length"/>) of one file to
    /// <paramref name="offsetOut"/> of another, looping over short copies (bounded); 0 or the first errno.
    /// </summary>
    public static int CopyFileRange(string from, long offsetIn, string to, long offsetOut, long length)
    {
        const int O_RDONLY = 0, O_WRONLY = 1;
        var input = open(from, O_RDONLY, 0);
        if (input < 0) return Marshal.GetLastPInvokeError();
        var output = open(to, O_WRONLY, 0);
        if (output < 0)
        {
            var openError = Marshal.GetLastPInvokeError();
            close(input);
            return openError;
        }
        var error = 0;
        long done = 0;
        for (var i = 0; i < 10_000 && done < length && error == 0; i++)
        {
            long inAt = offsetIn + done, outAt = offsetOut + done;
            var n = copy_file_range(input, ref inAt, output, ref outAt, (nuint)(length - done), 0);
            if (n < 0) error = Marshal.GetLastPInvokeError();
            else if (n == 0) break;
            else done += n;
        }
        close(output);
        close(input);
        return error;
    }

    /// <summary>posix_fadvise(DONTNEED) over the whole file: the next read asks the file system, not the page cache.</summary>
    public static void DropCache(string path)
    {
        const int O_RDONLY = 0, POSIX_FADV_DONTNEED = 4;
        var fd = open(path, O_RDONLY, 0);
        if (fd < 0) return;
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint copy_file_range(int fdIn, ref long offIn, int fdOut, ref long offOut, nuint length, uint flags);

    [LibraryImport("libc")]
    private static partial int posix_fadvise(int fd, long offset, long length, int advice);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
