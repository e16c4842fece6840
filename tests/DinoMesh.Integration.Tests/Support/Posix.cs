using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace DinoMesh.Integration.Tests.Support;

/// <summary>
/// Raw libc calls where .NET has no API (or hides the errno). Every call returns the errno
/// (<see cref="Errno.OK"/> on success) so a test can assert the exact error the kernel gave.
/// Only flags whose values are the same on x86_64 and arm64 are defined.
/// </summary>
public static partial class Posix
{
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2;
    public const int O_CREAT = 0x40, O_EXCL = 0x80, O_TRUNC = 0x200, O_APPEND = 0x400;
    public const int XATTR_CREATE = 1, XATTR_REPLACE = 2;
    public const uint RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2;
    public const long UTIME_NOW = (1L << 30) - 1, UTIME_OMIT = (1L << 30) - 2;
    public const int R_OK = 4, W_OK = 2, X_OK = 1, F_OK = 0;
    public const int SIGKILL = 9, SIGTERM = 15;
    public const int SEEK_SET = 0, SEEK_DATA = 3, SEEK_HOLE = 4;
    public const int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2, FALLOC_FL_ZERO_RANGE = 0x10;

    // These two differ between architectures (asm-generic vs x86).
    public static readonly int O_DIRECTORY = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 ? 0x4000 : 0x10000;
    public static readonly int O_DIRECT = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 ? 0x10000 : 0x4000;

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;

    /// <summary>Mode from octal digits written as a decimal literal: <c>Oct(4755)</c> is 04755.</summary>
    public static uint Oct(int digits) => Convert.ToUInt32(digits.ToString(System.Globalization.CultureInfo.InvariantCulture), 8);

    private static Errno Result(long rc) => rc < 0 ? (Errno)Marshal.GetLastPInvokeError() : Errno.OK;

    // ---- paths -------------------------------------------------------------------------

    public static Errno Stat(string path, out FileStat stat) => Statx(path, 0, out stat);

    public static Errno Lstat(string path, out FileStat stat) => Statx(path, AtSymlinkNoFollow, out stat);

    /// <summary>stat(2) that throws with the errno, for paths the test knows exist.</summary>
    public static FileStat Stat(string path) =>
        Stat(path, out var st) is var e && e == Errno.OK ? st : throw new IOException($"stat {path}: {e}");

    public static FileStat Lstat(string path) =>
        Lstat(path, out var st) is var e && e == Errno.OK ? st : throw new IOException($"lstat {path}: {e}");

    private static unsafe Errno Statx(string path, int flags, out FileStat stat)
    {
        // struct statx has one layout on every architecture, unlike struct stat.
        byte* buf = stackalloc byte[256];
        var e = Result(statx(AtFdCwd, path, flags, StatxBasicStats, buf));
        if (e != Errno.OK)
        {
            stat = null!;
            return e;
        }
        stat = ParseStatx(new ReadOnlySpan<byte>(buf, 256));
        return Errno.OK;
    }

    private static FileStat ParseStatx(ReadOnlySpan<byte> b)
    {
        static Timestamp Ts(ReadOnlySpan<byte> s) =>
            new(BinaryPrimitives.ReadInt64LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s[8..]));
        return new FileStat(
            Mode: BinaryPrimitives.ReadUInt16LittleEndian(b[28..]),
            Uid: BinaryPrimitives.ReadUInt32LittleEndian(b[20..]),
            Gid: BinaryPrimitives.ReadUInt32LittleEndian(b[24..]),
            Nlink: BinaryPrimitives.ReadUInt32LittleEndian(b[16..]),
            Inode: BinaryPrimitives.ReadUInt64LittleEndian(b[32..]),
            Size: BinaryPrimitives.ReadInt64LittleEndian(b[40..]),
            Blocks: BinaryPrimitives.ReadInt64LittleEndian(b[48..]),
            Atime: Ts(b[64..]),
            Mtime: Ts(b[112..]),
            Ctime: Ts(b[96..]));
    }

    public static Errno Mkdir(string path, uint mode) => Result(mkdir(path, mode));
    public static Errno Rmdir(string path) => Result(rmdir(path));
    public static Errno Unlink(string path) => Result(unlink(path));
    public static Errno Link(string existing, string newPath) => Result(link(existing, newPath));
    public static Errno Symlink(string target, string linkPath) => Result(symlink(target, linkPath));
    public static Errno Rename(string from, string to) => Result(rename(from, to));
    public static Errno Rename2(string from, string to, uint flags) => Result(renameat2(AtFdCwd, from, AtFdCwd, to, flags));
    public static Errno Chmod(string path, uint mode) => Result(chmod(path, mode));
    public static Errno Chown(string path, uint uid, uint gid) => Result(chown(path, uid, gid));
    public static Errno Lchown(string path, uint uid, uint gid) => Result(lchown(path, uid, gid));
    public static Errno Truncate(string path, long length) => Result(truncate(path, length));
    public static Errno Access(string path, int mode) => Result(access(path, mode));
    public static Errno Mkfifo(string path, uint mode) => Result(mkfifo(path, mode));

    public static Errno Readlink(string path, out string target)
    {
        var buf = new byte[4096];
        var n = readlink(path, buf, (nuint)buf.Length);
        target = n >= 0 ? Encoding.UTF8.GetString(buf, 0, (int)n) : "";
        return Result(n);
    }

    /// <summary>utimensat(2); pass <see cref="UTIME_NOW"/> or <see cref="UTIME_OMIT"/> as nanoseconds for those semantics.</summary>
    public static unsafe Errno Utimens(string path, (long Sec, long Nsec) atime, (long Sec, long Nsec) mtime, bool noFollow = false)
    {
        long* times = stackalloc long[4] { atime.Sec, atime.Nsec, mtime.Sec, mtime.Nsec };
        return Result(utimensat(AtFdCwd, path, times, noFollow ? AtSymlinkNoFollow : 0));
    }

    // ---- extended attributes -----------------------------------------------------------

    public static Errno SetXattr(string path, string name, byte[] value, int flags = 0) =>
        Result(setxattr(path, name, value, (nuint)value.Length, flags));

    /// <summary>getxattr(2) into a buffer of <paramref name="bufferSize"/> bytes (0 asks for the size only).</summary>
    public static Errno GetXattr(string path, string name, int bufferSize, out byte[] value, out long sizeReported)
    {
        var buf = new byte[Math.Max(bufferSize, 1)];
        var n = getxattr(path, name, bufferSize == 0 ? null : buf, (nuint)bufferSize);
        sizeReported = n;
        value = n >= 0 && bufferSize > 0 ? buf[..(int)n] : [];
        return Result(n);
    }

    public static Errno GetXattr(string path, string name, out byte[] value) =>
        GetXattr(path, name, 65536, out value, out _);

    public static Errno ListXattr(string path, out string[] names)
    {
        var buf = new byte[65536];
        var n = listxattr(path, buf, (nuint)buf.Length);
        names = n > 0 ? Encoding.UTF8.GetString(buf, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries) : [];
        return Result(n);
    }

    public static Errno RemoveXattr(string path, string name) => Result(removexattr(path, name));

    // ---- file descriptors --------------------------------------------------------------

    public static Errno Open(string path, int flags, uint mode, out int fd)
    {
        fd = open(path, flags, mode);
        return Result(fd);
    }

    /// <summary>open(2) that throws with the errno; the returned handle closes the descriptor.</summary>
    public static FileDescriptor Open(string path, int flags, uint mode = 0x1A4 /* 0644 */) =>
        Open(path, flags, mode, out var fd) is var e && e == Errno.OK
            ? new FileDescriptor(fd, path)
            : throw new IOException($"open {path}: {e}");

    internal static unsafe Errno PWrite(int fd, ReadOnlySpan<byte> data, long offset, out long written)
    {
        fixed (byte* p = data)
        {
            written = pwrite(fd, p, (nuint)data.Length, offset);
        }
        return Result(written);
    }

    internal static unsafe Errno Write(int fd, ReadOnlySpan<byte> data, out long written)
    {
        fixed (byte* p = data)
        {
            written = write(fd, p, (nuint)data.Length);
        }
        return Result(written);
    }

    internal static unsafe Errno PRead(int fd, Span<byte> buffer, long offset, out long read)
    {
        fixed (byte* p = buffer)
        {
            read = pread(fd, p, (nuint)buffer.Length, offset);
        }
        return Result(read);
    }

    internal static unsafe Errno Read(int fd, Span<byte> buffer, out long read)
    {
        fixed (byte* p = buffer)
        {
            read = Posix.read(fd, p, (nuint)buffer.Length);
        }
        return Result(read);
    }

    /// <summary>Drops the file's clean cached pages so the next read reaches the file system (POSIX_FADV_DONTNEED).</summary>
    internal static Errno DropCache(int fd) => posix_fadvise(fd, 0, 0, 4) is var rc && rc == 0 ? Errno.OK : (Errno)rc;

    internal static Errno Fsync(int fd) => Result(fsync(fd));
    internal static Errno Ftruncate(int fd, long length) => Result(ftruncate(fd, length));
    internal static Errno Fallocate(int fd, int mode, long offset, long length) => Result(fallocate(fd, mode, offset, length));
    internal static Errno Close(int fd) => Result(close(fd));

    /// <summary>fstat(2) through statx(fd, "", AT_EMPTY_PATH): works on a descriptor whose name is gone.</summary>
    internal static unsafe Errno Fstat(int fd, out FileStat stat)
    {
        byte* buf = stackalloc byte[256];
        var e = Result(statx(fd, "", AtEmptyPath, StatxBasicStats, buf));
        stat = e == Errno.OK ? ParseStatx(new ReadOnlySpan<byte>(buf, 256)) : null!;
        return e;
    }

    /// <summary>lseek(2); SEEK_DATA and SEEK_HOLE answer ENXIO past the last data or at the end.</summary>
    internal static Errno Lseek(int fd, long offset, int whence, out long position)
    {
        position = lseek(fd, offset, whence);
        return Result(position);
    }

    /// <summary>copy_file_range(2) with explicit offsets; <paramref name="copied"/> may be short (end of the source).</summary>
    internal static Errno CopyFileRange(int fdIn, long offIn, int fdOut, long offOut, long length, out long copied)
    {
        copied = copy_file_range(fdIn, ref offIn, fdOut, ref offOut, (nuint)length, 0);
        return Result(copied);
    }

    // ---- file systems and processes ----------------------------------------------------

    /// <summary>statvfs(2): block size, total blocks, available blocks and the longest name.</summary>
    public static unsafe Errno StatVfs(string path, out (ulong BlockSize, ulong Blocks, ulong Available, ulong NameMax) info)
    {
        // struct statvfs on 64-bit Linux: eleven unsigned longs then int __f_spare[6].
        ulong* buf = stackalloc ulong[14];
        var e = Result(statvfs(path, buf));
        info = (buf[0], buf[2], buf[4], buf[10]);
        return e;
    }

    public static Errno Kill(int pid, int signal) => Result(kill(pid, signal));

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buf);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, uint mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rmdir(string path);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int unlink(string path);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string oldpath, string newpath);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int symlink(string target, string linkpath);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint readlink(string path, byte[] buf, nuint size);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rename(string oldpath, string newpath);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chmod(string path, uint mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chown(string path, uint uid, uint gid);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, uint uid, uint gid);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int truncate(string path, long length);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int access(string path, int mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkfifo(string path, uint mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int utimensat(int dirfd, string path, long* times, int flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setxattr(string path, string name, byte[] value, nuint size, int flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint getxattr(string path, string name, byte[]? value, nuint size);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint listxattr(string path, byte[] list, nuint size);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int removexattr(string path, string name);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pwrite(int fd, byte* buf, nuint count, long offset);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buf, nuint count);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pread(int fd, byte* buf, nuint count, long offset);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buf, nuint count);
    [LibraryImport("libc")]
    private static partial int posix_fadvise(int fd, long offset, long len, int advice);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int ftruncate(int fd, long length);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int fallocate(int fd, int mode, long offset, long len);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(int fd, long offset, int whence);
    [LibraryImport("libc", SetLastError = true)]
    private static partial nint copy_file_range(int fdIn, ref long offIn, int fdOut, ref long offOut, nuint length, uint flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statvfs(string path, ulong* buf);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
