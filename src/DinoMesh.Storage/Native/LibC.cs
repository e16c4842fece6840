using System.Runtime.InteropServices;

namespace DinoMesh.Storage.Native;

/// <summary>The few libc calls .NET does not expose: advisory locks, fdatasync, syncfs, statx, statvfs, xattrs, directory fsync.</summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    public const int ENOENT = 2;
    public const int EEXIST = 17;
    public const int EACCES = 13;
    public const int EWOULDBLOCK = 11;
    public const int ENOTDIR = 20;
    public const int EROFS = 30;
    public const int ENOSPC = 28;
    public const int EDQUOT = 122;
    public const int EOPNOTSUPP = 95;
    public const int ENOSYS = 38;
    public const int FALLOC_FL_KEEP_SIZE = 1;
    public const int FALLOC_FL_PUNCH_HOLE = 2;
    public const uint STATX_BLOCKS = 0x400;
    public const int EPERM = 1;
    public const int ENODATA = 61;
    public const int EINTR = 4;
    public const int EINVAL = 22;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int O_DIRECT = 0x4000;
    public const int ERANGE = 34;

    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_CLOEXEC = 0x80000;
    public const int O_DIRECTORY = 0x10000;

    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;

    public const int AT_FDCWD = -100;
    public const int AT_EMPTY_PATH = 0x1000;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint STATX_BASIC_STATS = 0x7ff;
    public const uint STATX_TYPE = 0x1;

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, uint mode);

    /// <summary>ioctl(2) with a pointer argument (the one form used here: FS_IOC_GETFLAGS / FS_IOC_SETFLAGS).</summary>
    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, int* argument);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    [LibraryImport(Library, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport(Library, EntryPoint = "pread", SetLastError = true)]
    public static partial nint Pread(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, EntryPoint = "pwrite", SetLastError = true)]
    public static partial nint Pwrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport(Library, EntryPoint = "fdatasync", SetLastError = true)]
    public static partial int Fdatasync(int fd);

    public const uint SYNC_FILE_RANGE_WAIT_BEFORE = 1;
    public const uint SYNC_FILE_RANGE_WRITE = 2;
    public const uint SYNC_FILE_RANGE_WAIT_AFTER = 4;

    public const int POSIX_FADV_WILLNEED = 3;
    public const int POSIX_FADV_DONTNEED = 4;

    /// <summary>Returns the error number itself (0 on success); it does not set errno.</summary>
    [LibraryImport(Library, EntryPoint = "posix_fadvise")]
    public static partial int PosixFadvise(int fd, long offset, long length, int advice);

    /// <summary>With SYNC_FILE_RANGE_WRITE: starts writeback of the range and returns without waiting for it.</summary>
    [LibraryImport(Library, EntryPoint = "sync_file_range", SetLastError = true)]
    public static partial int SyncFileRange(int fd, long offset, long count, uint flags);

    [LibraryImport(Library, EntryPoint = "fallocate", SetLastError = true)]
    public static partial int Fallocate(int fd, int mode, long offset, long length);

    [LibraryImport(Library, EntryPoint = "syncfs", SetLastError = true)]
    public static partial int Syncfs(int fd);

    /// <summary>The value's length, or -1 with errno (ENODATA: no such attribute; ERANGE: longer than the buffer).</summary>
    [LibraryImport(Library, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Library, EntryPoint = "fgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint Fgetxattr(int fd, string name, byte* value, nuint size);

    [LibraryImport(Library, EntryPoint = "fsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Fsetxattr(int fd, string name, byte* value, nuint size, int flags);

    [LibraryImport(Library, EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Rename(string from, string to);

    /// <summary>rename(2) that fails with EEXIST instead of replacing an existing target.</summary>
    public const uint RENAME_NOREPLACE = 1;

    /// <summary>glibc 2.28 and later; EINVAL where the file system does not take the flag.</summary>
    [LibraryImport(Library, EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Renameat2(int fromDirectory, string from, int toDirectory, string to, uint flags);

    [LibraryImport(Library, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Unlink(string path);

    [LibraryImport(Library, EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    /// <summary>statx has the same layout on every Linux architecture (unlike struct stat); 256 bytes.</summary>
    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>struct statvfs on 64-bit Linux: eleven 8-byte fields then six ints of padding (112 bytes).</summary>
    [LibraryImport(Library, EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Statvfs(string path, ulong* buffer);

    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
