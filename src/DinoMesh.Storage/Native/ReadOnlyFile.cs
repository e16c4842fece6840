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
        bool direct = false;
        return Open(path, ref direct);
    }

    /// <summary>
    /// <see cref="Open(string)"/>, with O_DIRECT given to open(2) when <paramref name="direct"/> is true: a read of the
    /// whole file past the page cache then needs no fcntl to put the handle in direct mode and no F_GETFL before it
    /// (<see cref="DirectRead.Whole"/>, two system calls per chunk served). A file system that refuses O_DIRECT at open
    /// (EINVAL) gets a plain open, and <paramref name="direct"/> is then false.
    /// </summary>
    public static SafeFileHandle? Open(string path, ref bool direct)
    {
        int flags = LibC.O_RDONLY | LibC.O_CLOEXEC | (direct ? LibC.O_DIRECT : 0);
        while (true)
        {
            int fd = LibC.Open(path, flags, 0);
            if (fd >= 0) return new SafeFileHandle(fd, ownsHandle: true);
            int errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case LibC.EINTR:
                    continue;
                case LibC.EINVAL when (flags & LibC.O_DIRECT) != 0:
                    flags &= ~LibC.O_DIRECT;
                    direct = false;
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
