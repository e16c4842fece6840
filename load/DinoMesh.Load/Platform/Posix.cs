using System.Runtime.InteropServices;

namespace DinoMesh.Load.Platform;

/// <summary>
/// Calls whose failure .NET would hide: File.Delete succeeds on a missing file, but a benchmark that deletes files
/// must notice when one was never there.
/// </summary>
public static partial class Posix
{
    /// <summary>unlink(2); null on success, else the error.</summary>
    public static string? Unlink(string path) =>
        UnlinkNative(path) == 0 ? null : $"unlink failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";

    /// <summary>True when the process runs as root, which dropping the page cache needs.</summary>
    public static bool IsRoot => GetEffectiveUserId() == 0;

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkNative(string path);
}
