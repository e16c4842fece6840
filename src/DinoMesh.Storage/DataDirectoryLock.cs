using System.Runtime.InteropServices;
using System.Text;
using DinoMesh.Storage.Native;

namespace DinoMesh.Storage;

/// <summary>
/// An exclusive flock(2) on <c>&lt;dir&gt;/lock</c>, holding our pid for the error message of the next contender.
/// flock rather than the pid alone: the kernel drops the lock when the process dies, even on kill -9, so a stale
/// pid file never blocks a restart. The descriptor stays open for as long as the node runs.
/// Raw libc calls, not FileStream: .NET takes its own flock on every file it opens, which would clash with this one
/// (for the same reason, .NET code cannot read the lock file while a node runs; `cat` can).
/// </summary>
internal sealed class DataDirectoryLock : IDisposable
{
    private int _fd;

    private DataDirectoryLock(int fd) => _fd = fd;

    public static unsafe DataDirectoryLock Acquire(string root, string lockPath)
    {
        int fd = LibC.Open(lockPath, LibC.O_RDWR | LibC.O_CREAT | LibC.O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            var problem = errno is LibC.EACCES or LibC.EPERM or LibC.EROFS ? DataDirectoryProblem.NotWritable : DataDirectoryProblem.IoError;
            throw new DataDirectoryException(problem, root, $"data directory {root} is not writable: cannot open {lockPath}: {LibC.Describe(errno)}");
        }

        if (LibC.Flock(fd, LibC.LOCK_EX | LibC.LOCK_NB) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            int? pid = errno == LibC.EWOULDBLOCK ? ReadPid(fd) : null;
            LibC.Close(fd);
            if (errno != LibC.EWOULDBLOCK)
                throw new DataDirectoryException(DataDirectoryProblem.IoError, root, $"data directory {root}: cannot lock {lockPath}: {LibC.Describe(errno)}");
            string holder = pid is { } p ? $"pid {p}" : "pid unknown";
            throw new DataDirectoryException(DataDirectoryProblem.InUse, root, $"data directory {root} is in use by another dino-node ({holder})") { HolderPid = pid };
        }

        byte[] text = Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
        fixed (byte* b = text)
        {
            if (LibC.Ftruncate(fd, 0) != 0 || LibC.Pwrite(fd, b, (nuint)text.Length, 0) != text.Length)
            {
                int errno = Marshal.GetLastPInvokeError();
                LibC.Close(fd);
                var problem = errno is LibC.ENOSPC or LibC.EDQUOT or LibC.EROFS ? DataDirectoryProblem.NotWritable : DataDirectoryProblem.IoError;
                throw new DataDirectoryException(problem, root, $"data directory {root} is not writable: cannot write {lockPath}: {LibC.Describe(errno)}");
            }
        }
        return new DataDirectoryLock(fd);
    }

    private static unsafe int? ReadPid(int fd)
    {
        Span<byte> buffer = stackalloc byte[32];
        nint n;
        fixed (byte* b = buffer) n = LibC.Pread(fd, b, (nuint)buffer.Length, 0);
        if (n <= 0) return null;
        return int.TryParse(Encoding.ASCII.GetString(buffer[..(int)n]).Trim(), out int pid) ? pid : null;
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        // Closing the last descriptor releases the flock. The pid stays in the file: harmless, the lock is what counts.
        if (fd >= 0) LibC.Close(fd);
    }
}
