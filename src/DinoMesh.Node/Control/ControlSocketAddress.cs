using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace DinoMesh.Node.Control;

/// <summary>
/// The address to bind or connect for a control socket path. A Unix socket address holds at most 107 bytes of path,
/// and a data directory can be deeper than that (a test's temp directory, a long /srv path): then the socket is
/// reached through <c>/proc/self/fd/N/control.sock</c>, N being a descriptor of its directory held open for the call.
/// The socket file itself still lives at its real path, where permissions and the lock's guarantees apply.
/// </summary>
internal sealed partial class ControlSocketAddress : IDisposable
{
    private const int MaxPathBytes = 107;
    private const int OPath = 0x200000, ODirectory = 0x10000, OCloexec = 0x80000;

    private readonly int _directory = -1;

    private ControlSocketAddress(UnixDomainSocketEndPoint endPoint, int directory)
    {
        EndPoint = endPoint;
        _directory = directory;
    }

    public UnixDomainSocketEndPoint EndPoint { get; }

    public static ControlSocketAddress For(string path)
    {
        if (Encoding.UTF8.GetByteCount(path) <= MaxPathBytes) return new ControlSocketAddress(new UnixDomainSocketEndPoint(path), -1);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
        var fd = Open(directory, OPath | ODirectory | OCloexec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open {directory} to reach its control socket: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return new ControlSocketAddress(new UnixDomainSocketEndPoint($"/proc/self/fd/{fd}/{Path.GetFileName(path)}"), fd);
    }

    public void Dispose()
    {
        if (_directory >= 0) Close(_directory);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
