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

    /// <summary>True when the process runs as root, which dropping the page cache needs.</summary>
    public static bool IsRoot => GetEffectiveUserId() == 0;

    private static string? Check(int result, string call) =>
        result == 0 ? null : $"{call} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

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
