using System.Runtime.InteropServices;

namespace DinoMesh.Fuse.Interop;

/// <summary>The few libc calls the FUSE layer needs (Linux, 64-bit). errno comes from Marshal.GetLastPInvokeError.</summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int O_RDWR = 2;
    public const int O_CLOEXEC = 0x80000;
    public const ulong MS_NOSUID = 2;
    public const ulong MS_NODEV = 4;
    public const ulong MS_NOATIME = 1024;
    public const ulong MS_RELATIME = 1 << 21;
    public const ulong MS_STRICTATIME = 1 << 24;
    public const int MNT_DETACH = 2;
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;
    public const int F_SETFD = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int O_NONBLOCK = 0x800;
    public const short POLLIN = 1;
    public const int FD_CLOEXEC = 1;

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(SafeHandle fd, byte* buffer, nint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(SafeHandle fd, byte* buffer, nint count);

    [LibraryImport(Lib, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string source, string target, string fileSystemType, ulong flags, string data);

    [LibraryImport(Lib, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport(Lib, EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint RealPath(string path, nint resolved);

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    public const int AT_FDCWD = -100;
    public const int AT_STATX_FORCE_SYNC = 0x2000;
    public const uint STATX_TYPE = 1;

    /// <summary>
    /// statx that always asks the filesystem (AT_STATX_FORCE_SYNC: no cached attributes), so a FUSE mount whose
    /// connection is gone answers ENOTCONN. Returns 0 or the errno.
    /// </summary>
    public static int StatForced(string path)
    {
        byte* buffer = stackalloc byte[256];
        return Statx(AT_FDCWD, path, AT_STATX_FORCE_SYNC, STATX_TYPE, buffer) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_PRIVATE = 2;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MADV_HUGEPAGE = 14;

    [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport(Lib, EntryPoint = "madvise", SetLastError = true)]
    public static partial int Madvise(nint address, nuint length, int advice);

    [LibraryImport(Lib, EntryPoint = "free")]
    public static partial void Free(nint pointer);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport(Lib, EntryPoint = "getegid")]
    public static partial uint GetEgid();

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>struct msghdr (x86-64 / arm64 layout).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLen;
        public IoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Len;
    }

    /// <summary>struct cmsghdr; the data (here one int fd) follows at offset 16.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CMsgHdr
    {
        public nuint Len;
        public int Level;
        public int Type;
    }

    /// <summary>Resolves symlinks and "..": the form /proc/self/mountinfo uses. Returns null and the errno on failure.</summary>
    public static string? ResolvePath(string path, out int errno)
    {
        nint resolved = RealPath(path, 0);
        if (resolved == 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        errno = 0;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }
}
