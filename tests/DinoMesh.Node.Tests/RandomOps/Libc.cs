using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace DinoMesh.Node.Tests.RandomOps;

/// <summary>
/// The syscalls the random operations issue, each answering 0 or the errno (never throwing), so one call against a
/// node's mount and the same call against the native oracle directory can be compared errno for errno.
/// x86_64 / arm64 values only where they agree (O_DIRECTORY differs and is not used).
/// </summary>
public static partial class Libc
{
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_TRUNC = 0x200;
    public const int XATTR_CREATE = 1, XATTR_REPLACE = 2;
    public const int ENOENT = 2, EIO = 5, ENODATA = 61, ERANGE = 34;
    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100;

    private static int Errno(long rc) => rc < 0 ? Marshal.GetLastPInvokeError() : 0;

    public static int Mkdir(string path, uint mode) => Errno(mkdir(path, mode));
    public static int Rmdir(string path) => Errno(rmdir(path));
    public static int Unlink(string path) => Errno(unlink(path));
    public static int Link(string from, string to) => Errno(link(from, to));
    public static int Symlink(string target, string path) => Errno(symlink(target, path));
    public static int Rename(string from, string to, uint flags) => Errno(renameat2(AtFdCwd, from, AtFdCwd, to, flags));
    public static int Chmod(string path, uint mode) => Errno(chmod(path, mode));
    public static int Truncate(string path, long size) => Errno(truncate(path, size));
    public static int RemoveXattr(string path, string name) => Errno(removexattr(path, name));
    public static int SetXattr(string path, string name, byte[] value, int flags) => Errno(setxattr(path, name, value, (nuint)value.Length, flags));

    public static unsafe int Utimens(string path, long atimeNs, long mtimeNs)
    {
        long* times = stackalloc long[4] { atimeNs / 1_000_000_000, atimeNs % 1_000_000_000, mtimeNs / 1_000_000_000, mtimeNs % 1_000_000_000 };
        return Errno(utimensat(AtFdCwd, path, times, 0));
    }

    public static int Readlink(string path, out string target)
    {
        var buf = new byte[4096];
        var n = readlink(path, buf, (nuint)buf.Length);
        target = n >= 0 ? Encoding.UTF8.GetString(buf, 0, (int)n) : "";
        return Errno(n);
    }

    public static int Open(string path, int flags, uint mode, out int fd)
    {
        fd = open(path, flags, mode);
        return Errno(fd);
    }

    public static int Close(int fd) => Errno(close(fd));
    public static int Ftruncate(int fd, long length) => Errno(ftruncate(fd, length));

    public const int SEEK_DATA = 3, SEEK_HOLE = 4;

    /// <summary>lseek(2); <paramref name="position"/> is the new offset when it answers 0.</summary>
    public static int Lseek(int fd, long offset, int whence, out long position)
    {
        position = lseek(fd, offset, whence);
        return Errno(position);
    }
    public static int Fsync(int fd) => Errno(fsync(fd));

    /// <summary>pwrite(2) of all of <paramref name="data"/>, looping over short writes (bounded).</summary>
    public static unsafe int PwriteAll(int fd, ReadOnlySpan<byte> data, long offset)
    {
        fixed (byte* p = data)
        {
            var done = 0;
            for (var i = 0; i < 10_000 && done < data.Length; i++)
            {
                var n = pwrite(fd, p + done, data.Length - done, offset + done);
                if (n < 0) return Marshal.GetLastPInvokeError();
                if (n == 0) return EIO;
                done += (int)n;
            }
            return done == data.Length ? 0 : EIO;
        }
    }

    /// <summary>Reads the descriptor to its end (bounded to 64 MiB) into <paramref name="hash"/>; 0 or the errno.</summary>
    public static unsafe int ReadAll(int fd, System.Security.Cryptography.IncrementalHash hash, out long length)
    {
        var buf = new byte[1 << 20];
        length = 0;
        fixed (byte* p = buf)
        {
            while (length < 64L << 20)
            {
                var n = read(fd, p, buf.Length);
                if (n < 0) return Marshal.GetLastPInvokeError();
                if (n == 0) return 0;
                hash.AppendData(buf, 0, (int)n);
                length += n;
            }
        }
        return 0;
    }

    /// <summary>The attributes the model compares, from statx(2) (one layout on every architecture).</summary>
    public readonly record struct Attributes(uint Mode, uint Nlink, long Size, long MtimeNs)
    {
        public bool IsDirectory => (Mode & 0xF000) == 0x4000;
        public bool IsRegular => (Mode & 0xF000) == 0x8000;
        public bool IsSymlink => (Mode & 0xF000) == 0xA000;
    }

    public static unsafe int Stat(string path, bool follow, out Attributes attributes)
    {
        byte* buf = stackalloc byte[256];
        var e = Errno(statx(AtFdCwd, path, follow ? 0 : AtSymlinkNoFollow, 0x7ff, buf));
        if (e != 0)
        {
            attributes = default;
            return e;
        }
        var b = new ReadOnlySpan<byte>(buf, 256);
        attributes = new Attributes(
            BinaryPrimitives.ReadUInt16LittleEndian(b[28..]),
            BinaryPrimitives.ReadUInt32LittleEndian(b[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(b[40..]),
            BinaryPrimitives.ReadInt64LittleEndian(b[112..]) * 1_000_000_000 + BinaryPrimitives.ReadUInt32LittleEndian(b[120..]));
        return 0;
    }

    /// <summary>getxattr(2) (follows symlinks, as the random ops do); the value as hex.</summary>
    public static int GetXattr(string path, string name, out string value)
    {
        var buf = new byte[65536];
        var n = getxattr(path, name, buf, (nuint)buf.Length);
        value = n >= 0 ? Convert.ToHexString(buf, 0, (int)n) : "";
        return Errno(n);
    }

    /// <summary>The <c>user.*</c> xattrs of <paramref name="path"/> itself (not following a symlink), sorted, as name=hex.</summary>
    public static int UserXattrs(string path, out List<string> pairs)
    {
        pairs = [];
        var buf = new byte[65536];
        var n = llistxattr(path, buf, (nuint)buf.Length);
        if (n < 0) return Marshal.GetLastPInvokeError();
        var names = Encoding.UTF8.GetString(buf, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Where(x => x.StartsWith("user.", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var v = lgetxattr(path, name, buf, (nuint)buf.Length);
            if (v < 0) return Marshal.GetLastPInvokeError();
            pairs.Add($"{name}={Convert.ToHexString(buf, 0, (int)v)}");
        }
        return 0;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, uint mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rmdir(string path);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int unlink(string path);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string from, string to);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int symlink(string target, string path);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int olddirfd, string from, int newdirfd, string to, uint flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chmod(string path, uint mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int truncate(string path, long length);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int utimensat(int dirfd, string path, long* times, int flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint readlink(string path, byte[] buf, nuint size);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int ftruncate(int fd, long length);
    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(int fd, long offset, int whence);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pwrite(int fd, byte* buf, nint count, long offset);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buf, nint count);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buf);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setxattr(string path, string name, byte[] value, nuint size, int flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int removexattr(string path, string name);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint getxattr(string path, string name, byte[] value, nuint size);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint lgetxattr(string path, string name, byte[] value, nuint size);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint llistxattr(string path, byte[] list, nuint size);
}
