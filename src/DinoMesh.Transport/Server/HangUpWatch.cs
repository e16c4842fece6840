using System.Net.Sockets;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Cancels a direct connection's waiting admission check when its peer hangs up. A check that waits for this node's
/// log (up to 5-10 s, <see cref="IAdmission.CheckAsync"/>) reads nothing from the connection meanwhile, so nothing
/// else would notice: before 2026-12-06 a stranger that presented a far version and hung up held its handshake slot
/// for the whole wait. Looked at from a timer every <see cref="Interval"/> while the check waits, without reading the
/// socket nor registering it with the runtime's epoll thread (a lean connection's socket may still go to a thread of
/// its own): on Linux the kernel's TCP state (anything but established: the peer's FIN or reset came), elsewhere a poll
/// that says readable with nothing to read.
/// </summary>
internal sealed class HangUpWatch : IDisposable
{
    /// <summary>How often a waiting check's socket is looked at: a hang-up frees its slot within about this.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private const int TcpInfo = 11; // TCP_INFO; its first byte is tcpi_state
    private const byte TcpEstablished = 1;

    private readonly Socket _socket;
    private readonly CancellationTokenSource _hungUp;
    private Timer? _timer;

    /// <param name="aborting">Cancels the check too (the server stops).</param>
    public HangUpWatch(Socket socket, CancellationToken aborting)
    {
        _socket = socket;
        _hungUp = CancellationTokenSource.CreateLinkedTokenSource(aborting);
    }

    /// <summary>For the check: cancelled when the peer hangs up (once <see cref="Start"/> was called) or the server aborts.</summary>
    public CancellationToken Token => _hungUp.Token;

    /// <summary>Starts looking: the check waits. Ends with <see cref="Dispose"/>, once the check is decided.</summary>
    public void Start() => _timer ??= new Timer(static state => ((HangUpWatch)state!).Look(), this, Interval, Interval);

    private void Look()
    {
        try
        {
            if (!HungUp()) return;
            _timer?.Dispose();
            _hungUp.Cancel();
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            // The connection ended meanwhile, or the watch was disposed: nothing to cancel.
        }
    }

    private bool HungUp()
    {
        if (OperatingSystem.IsLinux())
        {
            Span<byte> info = stackalloc byte[8];
            return _socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, TcpInfo, info) > 0 && info[0] != TcpEstablished;
        }
        return _socket.Poll(0, SelectMode.SelectRead) && _socket.Available == 0;
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _hungUp.Dispose();
    }
}
