using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace DinoMesh.Transport.Server;

/// <summary>
/// How many descriptors the process has open, counted from the entries of /proc/self/fd with getdents64 alone: an open,
/// one or two directory reads and a close for a node's few hundred descriptors. .NET's directory enumeration stats every
/// entry (an lstat and a stat of each /proc/self/fd link, to learn whether it is a directory), which the listener's
/// once-a-second count paid for every descriptor: ~200 system calls a second on a node with 100 open, on a guest where
/// each costs microseconds (docs/benchmarks.md).
/// </summary>
internal static unsafe partial class OpenDescriptors
{
    private const int ORdOnly = 0, ODirectory = 0x10000, OCloexec = 0x80000, Eintr = 4;

    // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), then the name.
    private const int RecordLengthOffset = 16, NameOffset = 19;

    /// <summary>
    /// The entries of /proc/self/fd but "." and "..", the directory's own descriptor among them (one too many, on the
    /// safe side); null when it cannot be read, as when no descriptor is left to read it with.
    /// </summary>
    public static int? Count()
    {
        if (!OperatingSystem.IsLinux()) return null;
        int fd = Open("/proc/self/fd", ORdOnly | ODirectory | OCloexec, 0);
        if (fd < 0) return null;
        const int BufferSize = 16 * 1024;
        byte* buffer = stackalloc byte[BufferSize];
        try
        {
            var open = 0;
            while (true)
            {
                nint n = Getdents64(fd, buffer, BufferSize);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Eintr) continue;
                    return null;
                }
                if (n == 0) return open;
                for (nint at = 0; at < n;)
                {
                    var record = new ReadOnlySpan<byte>(buffer + at, (int)(n - at));
                    ushort length = BinaryPrimitives.ReadUInt16LittleEndian(record[RecordLengthOffset..]);
                    if (length == 0) return null; // a malformed record; never seen, but never loop on it
                    if (!IsDotOrDotDot(record[NameOffset..])) open++;
                    at += length;
                }
            }
        }
        finally
        {
            Close(fd);
        }
    }

    private static bool IsDotOrDotDot(ReadOnlySpan<byte> name) =>
        name[0] == (byte)'.' && (name[1] == 0 || (name[1] == (byte)'.' && name[2] == 0));

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "getdents64", SetLastError = true)]
    private static partial nint Getdents64(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
