using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading.Channels;
using DinoMesh.Transport.Bulk;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Kestrel's TCP listener, replaced so that the node decides at accept time, before a TLS handshake costs anything:
/// a connection over a cap (<see cref="ConnectionGate"/>) is reset at once, and running out of descriptors (EMFILE)
/// sheds the waiting connection instead of failing. Kestrel's own listener retries a failed accept at once, which on
/// EMFILE spins a core while every client hangs in the backlog. With a <see cref="DirectConnections"/> it also reads
/// (peeks at) each connection's ClientHello and hands one that offers only the bulk or only the lean ALPN id (those
/// <see cref="DirectConnections.Alpns"/> lists) to it instead of Kestrel.
/// </summary>
internal sealed class PeerListenerFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private const int Backlog = 512;
    private readonly ConnectionGate _gate;
    private readonly RefusalLog _refusals;
    private readonly ILoggerFactory _loggers;
    private readonly DirectConnections? _direct;
    private readonly TimeSpan _helloTimeout;

    /// <param name="direct">Where connections that offer only one of its ALPN ids go; null to give every connection to Kestrel.</param>
    /// <param name="helloTimeout">How long a connection may take to send its ClientHello (the handshake's bound).</param>
    public PeerListenerFactory(ConnectionGate gate, RefusalLog refusals, ILoggerFactory loggers, DirectConnections? direct = null, TimeSpan? helloTimeout = null)
    {
        _gate = gate;
        _refusals = refusals;
        _loggers = loggers;
        _direct = direct;
        _helloTimeout = helloTimeout ?? TimeSpan.FromSeconds(5);
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
        return ValueTask.FromResult<IConnectionListener>(new PeerListener(socket, _gate, _refusals, _loggers, _direct, _helloTimeout));
    }
}

internal sealed class PeerListener : IConnectionListener
{
    private readonly Socket _socket;
    private readonly ConnectionGate _gate;
    private readonly RefusalLog _refusals;
    private readonly SocketConnectionContextFactory _contexts;
    // Descriptors held back for the moment they run out. Released then, they let the listener accept, and so refuse,
    // the connection that is waiting instead of leaving it (and every one behind it) hanging in the backlog, and they
    // leave the rest of the process room: the runtime itself needs a descriptor now and then and aborts ("Out of
    // memory.") when it cannot get one. Connections are served again only once the whole reserve is back.
    private readonly DescriptorReserve _reserve = new(ReservedDescriptors);
    private const int ReservedDescriptors = 16;
    // Whether descriptors are free, asked before every accepted connection: from a count kept by the watch below while
    // there is room to spare, so that an accept opens no descriptors to find out; by probing near the edge.
    private readonly DescriptorHeadroom _headroom;
    // Free descriptors an accepted connection must leave behind, beyond the reserve.
    private const int HeadroomDescriptors = 8;
    // The runtime aborts ("Out of memory.") when it starts a thread and finds no descriptor free, and nothing here
    // learns of a squeeze until a connection arrives; so the free count is also checked on a clock, and the reserve
    // given back as soon as it runs low. Once a second: a squeeze that takes the last descriptor within that second
    // can still end the process, which no check from inside it can rule out.
    private static readonly TimeSpan DescriptorWatchPeriod = TimeSpan.FromSeconds(1);
    private readonly Timer _descriptorWatch;
    private readonly DirectConnections? _direct;
    private readonly TimeSpan _helloTimeout;
    private readonly ILogger _log;
    // Connections for Kestrel, in the order their ClientHello was read. Accepting runs in a loop of its own so that a
    // client slow to send its ClientHello holds up nobody else's accept.
    private readonly Channel<ConnectionContext> _forKestrel = Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _unbinding = new();
    private readonly Task _acceptLoop;

    public PeerListener(Socket socket, ConnectionGate gate, RefusalLog refusals, ILoggerFactory loggers, DirectConnections? direct = null, TimeSpan? helloTimeout = null)
    {
        _socket = socket;
        _gate = gate;
        _refusals = refusals;
        _direct = direct is { Alpns.Length: > 0 } ? direct : null;
        _helloTimeout = helloTimeout ?? TimeSpan.FromSeconds(5);
        _log = loggers.CreateLogger("DinoMesh.Transport.Server");
        // Inline scheduling: what a socket read brings is decrypted and parsed on the thread that completed the read,
        // and an answer's flush goes to the socket on the thread that wrote it, instead of two more hops through the
        // thread pool per message. Most of a cluster's messages are small calls whose handlers run for microseconds
        // (SWIM, lease); each hop could wake a sleeping worker, and those wake-ups were much of an idle node's CPU.
        // Nothing on this path blocks: handlers that may take time run on the thread pool (LeanServer, HTTP/2 streams).
        _contexts = new SocketConnectionContextFactory(new SocketConnectionFactoryOptions { UnsafePreferInlineScheduling = true }, loggers.CreateLogger("DinoMesh.Transport.Sockets"));
        _reserve.TryRefill();
        _headroom = DescriptorHeadroom.Of(_reserve);
        _headroom.Recount();
        EndPoint = socket.LocalEndPoint!;
        _descriptorWatch = new Timer(_ => WatchDescriptors(), null, DescriptorWatchPeriod, DescriptorWatchPeriod);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public EndPoint EndPoint { get; }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _forKestrel.Reader.ReadAsync(cancellationToken);
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            return null; // unbound: Kestrel stops accepting
        }
    }

    private async Task AcceptLoopAsync()
    {
        var cancellationToken = _unbinding.Token;
        try
        {
            while (await AcceptOneAsync(cancellationToken))
            {
            }
        }
        catch (Exception e)
        {
            _log.LogError(e, "the peer listener's accept loop failed");
        }
        finally
        {
            _forKestrel.Writer.TryComplete();
        }
    }

    /// <summary>Accepts one connection and sends it on its way (or refuses it); false once the listener is unbound.</summary>
    private async Task<bool> AcceptOneAsync(CancellationToken cancellationToken)
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
                return false;
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

            _headroom.Took(1);
            if (!_reserve.IsFull && !TryRefillReserve())
            {
                // Still short of descriptors: refuse at once rather than let a TLS handshake take what is left.
                Reset(accepted);
                LogOutOfDescriptors();
                continue;
            }
            if (!_headroom.Has(HeadroomDescriptors))
            {
                // Free descriptors are nearly gone although accept still got one: this connection would take what the
                // rest of the process needs. Refused, and the reserve goes back to the process until the pressure passes.
                _reserve.Release();
                Reset(accepted);
                LogOutOfDescriptors();
                continue;
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
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                ticket.Dispose();
                accepted.Dispose();
                continue;
            }
            if (_direct is null) ToKestrel(accepted, ticket);
            else _ = RouteAsync(accepted, ticket);
            return true;
        }
    }

    /// <summary>
    /// Peeks at the connection's first TLS record until its ClientHello says where it goes: past Kestrel when it offers
    /// only the bulk or only the lean ALPN id, to Kestrel otherwise (and whenever the record cannot be read, or stops arriving for
    /// <see cref="HelloStall"/>: Kestrel's handshake then answers it as it always did). A connection that sends nothing
    /// within the handshake's bound is closed.
    /// </summary>
    private async Task RouteAsync(Socket accepted, ConnectionTicket ticket)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ClientHelloAlpn.MaxRecordBytes);
        var offer = AlpnOffer.NeedMore;
        var offered = default(SslApplicationProtocol);
        try
        {
            using var hello = CancellationTokenSource.CreateLinkedTokenSource(_unbinding.Token);
            hello.CancelAfter(_helloTimeout);
            var seen = 0;
            var pause = TimeSpan.FromMilliseconds(1);
            var stalledSince = 0L;
            while (true)
            {
                var n = await PeekAsync(accepted, buffer, hello.Token);
                if (n == 0) break; // the client hung up before its ClientHello
                offer = OffersOneOfOurs(buffer.AsSpan(0, n), out offered);
                if (offer != AlpnOffer.NeedMore) break;
                // Part of the record is here: a peek returns at once while anything is buffered, so wait a moment for
                // the rest (a ClientHello is one segment on loopback and seldom more than two elsewhere). A peek cannot
                // see a hang-up behind the bytes it returns, so a record that stops growing goes to Kestrel soon: its
                // handshake reads the bytes, and sees the end or waits out its timeout, as it did before this listener
                // read ClientHellos (a real bulk or lean ClientHello that slow is still served there).
                if (n == seen)
                {
                    if (stalledSince == 0) stalledSince = Stopwatch.GetTimestamp();
                    else if (Stopwatch.GetElapsedTime(stalledSince) >= HelloStall)
                    {
                        offer = AlpnOffer.Other;
                        break;
                    }
                    await Task.Delay(pause, hello.Token);
                    pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMilliseconds(20).Ticks));
                }
                else
                {
                    stalledSince = 0;
                }
                seen = n;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            offer = AlpnOffer.NeedMore;
        }
        catch (Exception e)
        {
            // Nobody awaits this task: whatever went wrong, the connection is closed and its ticket returned below.
            _log.LogError(e, "reading the ClientHello of a connection from {Remote} failed", ticket.Address);
            offer = AlpnOffer.NeedMore;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        switch (offer)
        {
            case AlpnOffer.Only:
                _direct!.Serve(accepted, ticket, offered, Lean.DedicatedSocketStream.IsUnregistered(accepted));
                break;
            case AlpnOffer.Other:
                ToKestrel(accepted, ticket);
                break;
            default:
                // Silent past the handshake's bound, gone, or the listener is unbound: what Kestrel's handshake timeout would have done.
                _log.LogDebug("closed a connection from {Remote} that sent no ClientHello within {Timeout}", ticket.Address, _helloTimeout);
                ticket.Dispose();
                accepted.Dispose();
                break;
        }
    }

    /// <summary>
    /// Peeks at what the connection sent so far. While the ClientHello is not there yet, for up to <see cref="QuietPeek"/>,
    /// it waits by polling (a system call that leaves the socket alone) on a short backoff, and peeks with a blocking
    /// call only once bytes are there (so it returns at once): the socket then stays as the runtime made it, blocking
    /// and never registered with its epoll thread, and a lean connection can be read by a thread of its own
    /// (<see cref="DirectConnections"/>). A ClientHello slower than that is waited for asynchronously, as before, and
    /// its connection served by the asynchronous path whatever it offers.
    /// </summary>
    private static async ValueTask<int> PeekAsync(Socket accepted, byte[] buffer, CancellationToken ct)
    {
        var record = buffer.AsMemory(0, ClientHelloAlpn.MaxRecordBytes);
        if (!Lean.DedicatedSocketStream.IsUnregistered(accepted)) return await accepted.ReceiveAsync(record, SocketFlags.Peek, ct);
        var started = Stopwatch.GetTimestamp();
        var pause = TimeSpan.FromMilliseconds(1);
        while (!accepted.Poll(0, SelectMode.SelectRead))
        {
            if (Stopwatch.GetElapsedTime(started) >= QuietPeek)
            {
                return await accepted.ReceiveAsync(record, SocketFlags.Peek, ct);
            }
            await Task.Delay(pause, ct);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMilliseconds(16).Ticks));
        }
        // Readable: bytes are buffered (or the peer hung up, or failed), so this returns without blocking.
        return accepted.Receive(record.Span, SocketFlags.Peek);
    }

    /// <summary>How long the listener polls for a ClientHello before it waits for it through the runtime's epoll thread.</summary>
    private static readonly TimeSpan QuietPeek = TimeSpan.FromMilliseconds(250);

    /// <summary><see cref="AlpnOffer.Only"/> when the record offers exactly one ALPN id, one that <see cref="_direct"/> takes.</summary>
    private AlpnOffer OffersOneOfOurs(ReadOnlySpan<byte> record, out SslApplicationProtocol offered)
    {
        offered = default;
        foreach (var alpn in _direct!.Alpns)
        {
            var offer = ClientHelloAlpn.OffersOnly(record, alpn.Protocol.Span);
            if (offer == AlpnOffer.Other) continue;
            // Only this one, or the record is not all here yet (which holds for every id alike).
            offered = alpn;
            return offer;
        }
        return AlpnOffer.Other;
    }

    /// <summary>How long a first record may stop growing before the connection is given to Kestrel unread.</summary>
    private static readonly TimeSpan HelloStall = TimeSpan.FromMilliseconds(100);

    private void ToKestrel(Socket accepted, ConnectionTicket ticket)
    {
        try
        {
            var context = _contexts.Create(accepted);
            context.Features.Set(ticket);
            if (_forKestrel.Writer.TryWrite(context)) return;
            // Unbound meanwhile: nobody will take it.
            ticket.Dispose();
            _ = context.DisposeAsync().AsTask();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            ticket.Dispose();
            accepted.Dispose();
        }
    }

    /// <summary>
    /// Out of descriptors: give the reserve back to the process (the next accept takes one of them and refuses its
    /// connection), then pause briefly so accept does not spin while nothing is free.
    /// </summary>
    private async Task ShedAsync(CancellationToken ct)
    {
        LogOutOfDescriptors();
        var released = _reserve.Release();
        try
        {
            if (released == 0) await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Takes the reserve back, but only when that leaves the headroom free beside it: refilling into the last free
    /// descriptors would recreate the squeeze it is meant to soften. False (and nothing held) when it cannot.
    /// </summary>
    private bool TryRefillReserve()
    {
        if (_headroom.Has(ReservedDescriptors + HeadroomDescriptors) && _reserve.TryRefill())
        {
            _headroom.Took(ReservedDescriptors);
            return true;
        }
        _reserve.Release();
        return false;
    }

    private void WatchDescriptors()
    {
        _headroom.Recount();
        if (_reserve.IsFull)
        {
            if (_headroom.Has(HeadroomDescriptors)) return;
            _reserve.Release();
            LogOutOfDescriptors();
        }
        else
        {
            TryRefillReserve();
        }
    }

    // The limit read now: an operator (or prlimit) may have changed it since the node started.
    private void LogOutOfDescriptors() =>
        _refusals.Refused(LogLevel.Error, "connections refused (out of file descriptors)", "",
            "out of file descriptors (limit {Limit}): refusing new connections until some close", DescriptorLimit.Current()?.ToString() ?? "unknown");

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

    public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        await _unbinding.CancelAsync();
        _socket.Dispose();
        await _acceptLoop;
        // Accepted but never taken by Kestrel: closed here.
        while (_forKestrel.Reader.TryRead(out var left))
        {
            left.Features.Get<ConnectionTicket>()?.Dispose();
            await left.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await UnbindAsync();
        _descriptorWatch.Dispose();
        _contexts.Dispose();
        _reserve.Release();
    }
}
