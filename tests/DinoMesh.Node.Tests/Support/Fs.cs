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

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
