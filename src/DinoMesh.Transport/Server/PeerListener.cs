using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Kestrel's TCP listener, replaced so that the node decides at accept time, before a TLS handshake costs anything:
/// a connection over a cap (<see cref="ConnectionGate"/>) is reset at once, and running out of descriptors (EMFILE)
/// sheds the waiting connection instead of failing. Kestrel's own listener retries a failed accept at once, which on
/// EMFILE spins a core while every client hangs in the backlog.
/// </summary>
internal sealed class PeerListenerFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private const int Backlog = 512;
    private readonly ConnectionGate _gate;
    private readonly RefusalLog _refusals;
    private readonly ILoggerFactory _loggers;

    public PeerListenerFactory(ConnectionGate gate, RefusalLog refusals, ILoggerFactory loggers)
    {
        _gate = gate;
        _refusals = refusals;
        _loggers = loggers;
    }

    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        Socket socket;
        try
        {
            socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // What Kestrel's own listener throws, and turns into an IOException for the caller.
            throw new AddressInUseException(e.Message, e);
        }
        try
        {
            socket.Listen(Backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return ValueTask.FromResult<IConnectionListener>(new PeerListener(socket, _gate, _refusals, _loggers));
    }
}

internal sealed class PeerListener : IConnectionListener
{
    private readonly Socket _socket;
    private readonly ConnectionGate _gate;
    private readonly RefusalLog _refusals;
    private readonly SocketConnectionContextFactory _contexts;
    private readonly long? _descriptorLimit = DescriptorLimit.Current();
    // One descriptor held back for the moment they run out: closing it lets us accept, and so refuse, the connection
    // that is waiting, rather than leaving it (and every one behind it) to hang in the backlog.
    private SafeFileHandle? _spare;

    public PeerListener(Socket socket, ConnectionGate gate, RefusalLog refusals, ILoggerFactory loggers)
    {
        _socket = socket;
        _gate = gate;
        _refusals = refusals;
        _contexts = new SocketConnectionContextFactory(new SocketConnectionFactoryOptions(), loggers.CreateLogger("DinoMesh.Transport.Sockets"));
        _spare = OpenSpare();
        EndPoint = socket.LocalEndPoint!;
    }

    public EndPoint EndPoint { get; }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(cancellationToken);
            }
            catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException ||
                                      e is SocketException { SocketErrorCode: SocketError.OperationAborted })
            {
                return null; // unbound: Kestrel stops accepting
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                await ShedAsync(cancellationToken);
                continue;
            }
            catch (SocketException)
            {
                continue; // reset while it waited in the backlog
            }

            var remote = accepted.RemoteEndPoint as IPEndPoint;
            var ticket = _gate.TryOpen(remote?.Address ?? IPAddress.None, out var refusal);
            if (ticket is null)
            {
                Reset(accepted);
                var source = remote is null ? "?" : AddressKey.Of(remote.Address).ToString();
                _refusals.Refused(LogLevel.Warning, "connections refused (over a connection cap)", source,
                    "refused a connection from {Remote}: {Reason}", source, refusal);
                continue;
            }
            try
            {
                accepted.NoDelay = true;
                var context = _contexts.Create(accepted);
                context.Features.Set(ticket);
                return context;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                ticket.Dispose();
                accepted.Dispose();
            }
        }
    }

    /// <summary>Out of descriptors: refuse the waiting connection with the spare descriptor, then pause briefly.</summary>
    private async Task ShedAsync(CancellationToken ct)
    {
        _refusals.Refused(LogLevel.Error, "connections refused (out of file descriptors)", "",
            "out of file descriptors (limit {Limit}): refusing new connections until some close", _descriptorLimit?.ToString() ?? "unknown");
        if (_spare is not null)
        {
            _spare.Dispose();
            _spare = null;
            using var quick = CancellationTokenSource.CreateLinkedTokenSource(ct);
            quick.CancelAfter(TimeSpan.FromMilliseconds(100));
            try
            {
                Reset(await _socket.AcceptAsync(quick.Token));
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // Someone else took the descriptor, or the client gave up: nothing to refuse.
            }
            _spare = OpenSpare();
        }
        // Without a spare (or with descriptors still gone) the backlog waits; the pause keeps accept from spinning.
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static SafeFileHandle? OpenSpare()
    {
        try
        {
            return File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Closes with RST: the client learns at once, and no descriptor lingers in TIME_WAIT or FIN_WAIT here.</summary>
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }
        socket.Dispose();
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        _contexts.Dispose();
        _spare?.Dispose();
        return ValueTask.CompletedTask;
    }
}
