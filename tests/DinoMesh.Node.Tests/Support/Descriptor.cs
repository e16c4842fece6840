using System.Runtime.InteropServices;

namespace DinoMesh.Node.Tests.Support;

/// <summary>
/// One open file descriptor driven by raw syscalls, for what .NET's streams cannot ask for: switching flags on an open
/// descriptor with fcntl(F_SETFL), and per-write flags (pwritev2). Every failure throws with the errno.
/// </summary>
public sealed partial class Descriptor : IDisposable
{
    public const int O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_APPEND = 0x400, O_DSYNC = 0x1000;
    /// <summary>RWF_DSYNC: this write alone is data-synchronous, as if the file were open with O_DSYNC.</summary>
    public const int RWF_DSYNC = 2;
    private const int F_GETFL = 3, F_SETFL = 4;

    private int _fd;

    private Descriptor(int fd) => _fd = fd;

    public static Descriptor Open(string path, int flags, int mode = 0x1A4)
    {
        var fd = open(path, flags, (uint)mode);
        if (fd < 0) throw Failed($"open({path}, 0x{flags:x})");
        return new Descriptor(fd);
    }

    /// <summary>fcntl(F_SETFL) with <paramref name="flags"/> added to the descriptor's current status flags.</summary>
    public void AddStatusFlags(int flags)
    {
        var current = fcntl(_fd, F_GETFL, 0);
        if (current < 0) throw Failed("fcntl(F_GETFL)");
        if (fcntl(_fd, F_SETFL, current | flags) < 0) throw Failed($"fcntl(F_SETFL, 0x{current | flags:x})");
    }

    /// <summary>The descriptor's status flags (fcntl F_GETFL).</summary>
    public int StatusFlags()
    {
        var current = fcntl(_fd, F_GETFL, 0);
        return current >= 0 ? current : throw Failed("fcntl(F_GETFL)");
    }

    /// <summary>write(2) of all of <paramref name="data"/> at the descriptor's offset, in one call (a short write throws).</summary>
    public unsafe void Write(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            var n = write(_fd, p, data.Length);
            if (n < 0) throw Failed("write");
            if (n != data.Length) throw new IOException($"write: {n} of {data.Length} bytes");
        }
    }

    /// <summary>pwritev2(2) of one buffer at <paramref name="offset"/> with <paramref name="rwfFlags"/> (RWF_*).</summary>
    public unsafe void WriteAt(ReadOnlySpan<byte> data, long offset, int rwfFlags)
    {
        fixed (byte* p = data)
        {
            var iov = stackalloc nint[2] { (nint)p, data.Length };
            var n = pwritev2(_fd, iov, 1, offset, rwfFlags);
            if (n < 0) throw Failed("pwritev2");
            if (n != data.Length) throw new IOException($"pwritev2: {n} of {data.Length} bytes");
        }
    }

    public void Fsync()
    {
        if (fsync(_fd) != 0) throw Failed("fsync");
    }

    /// <summary>The descriptor number, for syscalls this class does not wrap.</summary>
    public int Fd => _fd;

    /// <summary>Closes the descriptor and ignores the outcome (its mount's daemon may be gone).</summary>
    public void Abandon()
    {
        if (_fd < 0) return;
        _ = close(_fd);
        _fd = -1;
    }

    public void Dispose()
    {
        if (_fd < 0) return;
        var fd = _fd;
        _fd = -1;
        if (close(fd) != 0) throw Failed("close");
    }

    private static IOException Failed(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buf, nint count);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pwritev2(int fd, nint* iov, int iovcnt, long offset, int flags);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
