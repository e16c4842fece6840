using System.Runtime.InteropServices;

namespace DinoMesh.Load.Platform;

/// <summary>
/// Calls whose failure .NET would hide or blur: File.Delete succeeds on a missing file, File.Move may check and copy,
/// but a load scenario must issue exactly one system call per operation and notice when it fails. Each returns null
/// on success, else the call's name and the errno message.
/// </summary>
public static partial class Posix
{
    public static string? Unlink(string path) => Check(UnlinkNative(path), "unlink");

    public static string? Rename(string from, string to) => Check(RenameNative(from, to), "rename");

    public static string? MakeDirectory(string path, UnixFileMode mode = (UnixFileMode)0b111_101_101) => Check(MkdirNative(path, (uint)mode), "mkdir");

    public static string? RemoveDirectory(string path) => Check(RmdirNative(path), "rmdir");

    public static string? ChangeMode(string path, UnixFileMode mode) => Check(ChmodNative(path, (uint)mode), "chmod");

    /// <summary>setxattr(2) with flags 0 (create or replace).</summary>
    public static unsafe string? SetExtendedAttribute(string path, string name, ReadOnlySpan<byte> value)
    {
        fixed (byte* data = value)
        {
            return Check(SetXattrNative(path, name, data, (nuint)value.Length, 0), "setxattr");
        }
    }

    /// <summary>
    /// open(O_WRONLY | O_CREAT | O_EXCL, 0644), write <paramref name="bytes"/> at offset 0, close: the three system calls
    /// of "create + write + close" and nothing else. .NET's <c>File.OpenHandle</c> adds an <c>fstatfs</c> (a STATFS round
    /// trip to a FUSE daemon) and two <c>flock</c>s per file, and its handle's dispose drops the error of close(2),
    /// which on a network file system is where a failed commit of the written bytes is reported.
    /// </summary>
    public static unsafe string? CreateExclusive(string path, ReadOnlySpan<byte> bytes, UnixFileMode mode = (UnixFileMode)0b110_100_100)
    {
        int fd;
        do fd = OpenNative(path, OpenWriteOnly | OpenCreate | OpenExclusive | OpenCloseOnExec, (uint)mode);
        while (fd < 0 && Marshal.GetLastPInvokeError() == InterruptedErrno);
        if (fd < 0) return Check(-1, "open");
        string? error = null;
        fixed (byte* data = bytes)
        {
            for (int done = 0; done < bytes.Length && error is null;)
            {
                nint wrote = PWriteNative(fd, data + done, (nuint)(bytes.Length - done), done);
                if (wrote > 0) done += (int)wrote;
                else if (wrote < 0 && Marshal.GetLastPInvokeError() == InterruptedErrno) continue;
                else error = wrote == 0 ? "write failed: wrote nothing" : Check(-1, "write");
            }
        }
        // close(2) is not retried on EINTR on Linux: the descriptor is gone either way, and its error still counts.
        string? closed = Check(CloseNative(fd), "close");
        return error ?? closed;
    }

    private const int OpenWriteOnly = 0x1, OpenCreate = 0x40, OpenExclusive = 0x80, OpenCloseOnExec = 0x80000, InterruptedErrno = 4;

    /// <summary>True when the process runs as root, which dropping the page cache needs.</summary>
    public static bool IsRoot => GetEffectiveUserId() == 0;

    private static string? Check(int result, string call) =>
        result == 0 ? null : $"{call} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static unsafe partial nint PWriteNative(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseNative(int fd);

    [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkNative(string path);

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameNative(string from, string to);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkdirNative(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RmdirNative(string path);

    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChmodNative(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "setxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int SetXattrNative(string path, string name, byte* value, nuint size, int flags);
}
