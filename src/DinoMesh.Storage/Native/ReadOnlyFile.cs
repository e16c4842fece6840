using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Storage.Native;

/// <summary>
/// Opens a file for reading with one open(2). <see cref="File.OpenHandle(string, FileMode, FileAccess, FileShare, FileOptions, long)"/>
/// adds an fstat (to refuse directories) and emulates <see cref="FileShare"/> with flock(2), locked at open and
/// unlocked at close: three system calls more per chunk read, for a lock no chunk writer ever takes (chunk files are
/// published by rename and never written in place).
/// </summary>
internal static class ReadOnlyFile
{
    /// <summary>The open file, or null when <paramref name="path"/> does not exist (ENOENT, ENOTDIR).</summary>
    /// <exception cref="UnauthorizedAccessException">EACCES, EPERM.</exception>
    /// <exception cref="IOException">Any other failure.</exception>
    public static SafeFileHandle? Open(string path)
    {
        while (true)
        {
            int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
            if (fd >= 0) return new SafeFileHandle(fd, ownsHandle: true);
            int errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case LibC.EINTR:
                    continue;
                case LibC.ENOENT or LibC.ENOTDIR:
                    return null;
                case LibC.EACCES or LibC.EPERM:
                    throw new UnauthorizedAccessException($"cannot open {path}: {LibC.Describe(errno)}");
                default:
                    throw new IOException($"cannot open {path}: {LibC.Describe(errno)}", errno);
            }
        }
    }
}
