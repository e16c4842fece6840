using System.Diagnostics;
using DinoMesh.Core.Identity;
using DinoMesh.Transport.Identity;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Server;

/// <summary>
/// The connection middleware around the TLS handshake. <see cref="Count"/> (outermost) returns the connection's
/// <see cref="ConnectionTicket"/> when it ends, however it ends. <see cref="Watch"/> (after the handshake) learns who
/// connected, promotes an admitted peer out of the stranger counts, and closes a connection that sends no request
/// within <see cref="ConnectionLimits.FirstRequestTimeout"/> (a TLS client that never sends the HTTP/2 preface), and
/// a stranger's connection once idle past <see cref="ConnectionLimits.StrangerIdleTimeout"/> or older than
/// <see cref="ConnectionLimits.StrangerLifetime"/>.
/// </summary>
internal sealed class ConnectionWatch
{
    private readonly ConnectionLimits _limits;
    private readonly IAdmission _admission;
    private readonly RefusalLog _refusals;
    private readonly TimeSpan _tick;

    private readonly BulkServer? _bulk;
    private readonly LeanServer? _lean;

    public ConnectionWatch(ConnectionLimits limits, IAdmission admission, RefusalLog refusals, BulkServer? bulk = null, LeanServer? lean = null)
    {
        _lean = lean;
        _limits = limits;
        _admission = admission;
        _refusals = refusals;
        _bulk = bulk;
        var shortest = new[] { limits.FirstRequestTimeout, limits.StrangerIdleTimeout, limits.StrangerLifetime }.Min();
        _tick = TimeSpan.FromTicks(Math.Clamp(shortest.Ticks / 4, TimeSpan.FromMilliseconds(20).Ticks, TimeSpan.FromSeconds(1).Ticks));
    }

    public ConnectionDelegate Count(ConnectionDelegate next) => async context =>
    {
        var ticket = context.Features.Get<ConnectionTicket>();
        try
        {
            await next(context);
        }
        finally
        {
            ticket?.Dispose();
        }
    };

    public ConnectionDelegate Watch(ConnectionDelegate next) => async context =>
    {
        var ticket = context.Features.Get<ConnectionTicket>();
        var certificate = context.Features.Get<ITlsConnectionFeature>()?.ClientCertificate;
        var peer = certificate is null ? default : PeerCertificate.PeerIdOf(certificate);
        var activity = new ConnectionActivity();
        context.Features.Set(activity);
        context.Features.Set(new ConnectionAdmission(context.ConnectionClosed));
        // A peer this node does not know yet may present the log version it was admitted at (in the TLS server name):
        // if this node's log is behind it, the check waits (bounded, without a thread) for the log instead of refusing
        // a newcomer that every up-to-date member accepts. Meanwhile the connection is not served.
        // (Kestrel fills ITlsHandshakeFeature.HostName only when it selects a certificate by name; the server side of
        // the TLS stream always knows the name the client sent.)
        var presented = AdmissionHint.FromServerName(context.Features.Get<ISslStreamFeature>()?.SslStream.TargetHostName);
        var admission = peer.IsEmpty ? AdmissionVerdict.No(AdmissionVerdict.NotAdmitted) : await _admission.CheckAsync(peer, presented, context.ConnectionClosed);
        if (ticket is not null && !ticket.Identify(admission.Admitted, out var full))
        {
            var from = ticket.Address.ToString();
            _refusals.Refused(LogLevel.Warning, "connections refused (over a connection cap)", from,
                "refused a connection of {Peer} from {Remote}: {Reason}", peer.IsEmpty ? "(no identity)" : peer.Short, from, full);
            context.Abort(new ConnectionAbortedException(full));
            return;
        }

        var alpn = context.Features.Get<ITlsApplicationProtocolFeature>()?.ApplicationProtocol;
        var bulk = _bulk is not null && alpn?.Span.SequenceEqual(Bulk.BulkWire.Alpn.Protocol.Span) == true;
        var lean = _lean is not null && alpn?.Span.SequenceEqual(Lean.LeanWire.Alpn.Protocol.Span) == true;
        if ((bulk || lean) && !admission.Admitted)
        {
            // The bulk and lean paths are for members only: a stranger's only business here is the join protocol, over HTTP/2.
            var from = ticket?.Address.ToString() ?? "?";
            var path = bulk ? "bulk" : "lean";
            _refusals.Refused(LogLevel.Warning, $"connections refused ({path} path, not an admitted member)", from,
                "refused a {Path} connection of {Peer} from {Remote}: {Reason}", path, peer.IsEmpty ? "(no identity)" : peer.Short, from, admission.Reason);
            // A lean caller is told it is refused and that nothing was read, so it tries HTTP/2 at once whatever its protocol.
            if (lean) await LeanServer.RefuseAsync(context);
            context.Abort(new ConnectionAbortedException("not an admitted member"));
            return;
        }
        var serving = bulk ? _bulk!.ServeAsync(context, peer, activity) : lean ? _lean!.ServeAsync(context, peer, activity) : next(context);
        var reason = await WatchAsync(serving, ticket, peer, activity);
        if (reason is not null)
        {
            var source = ticket?.Address.ToString() ?? "?";
            _refusals.Refused(LogLevel.Information, $"connections closed ({reason})", source,
                "closed the connection of {Peer} from {Remote}: {Reason}", peer.IsEmpty ? "(no identity)" : peer.Short, source, reason);
            context.Abort(new ConnectionAbortedException(reason));
        }
        await serving;
    };

    /// <summary>Waits while the connection is served; the reason to close it when a deadline passes first.</summary>
    private async Task<string?> WatchAsync(Task serving, ConnectionTicket? ticket, PeerId peer, ConnectionActivity activity)
    {
        var opened = Stopwatch.GetTimestamp();
        while (!serving.IsCompleted)
        {
            await Task.WhenAny(serving, Task.Delay(_tick));
            if (serving.IsCompleted) return null;
            var age = Stopwatch.GetElapsedTime(opened);
            if (!activity.AnyRequest)
            {
                if (age >= _limits.FirstRequestTimeout) return $"no request within {_limits.FirstRequestTimeout.TotalSeconds:0.#} s of the handshake";
                continue;
            }
            if (ticket is null || !ticket.IsStranger) return null; // a member: Kestrel's keep-alive takes it from here
            if (!peer.IsEmpty && _admission.IsAdmitted(peer))
            {
                ticket.Promote(); // joined on this very connection
                return null;
            }
            if (age >= _limits.StrangerLifetime) return $"not admitted after {_limits.StrangerLifetime.TotalSeconds:0.#} s";
            if (activity.IdleFor >= _limits.StrangerIdleTimeout) return $"not admitted and idle for {_limits.StrangerIdleTimeout.TotalSeconds:0.#} s";
        }
        return null;
    }
}

/// <summary>Requests on one connection, as its HTTP handler reports them; read by <see cref="ConnectionWatch"/>.</summary>
internal sealed class ConnectionActivity
{
    private int _inFlight;
    private int _any;
    private long _lastChange = Stopwatch.GetTimestamp();

    public bool AnyRequest => Volatile.Read(ref _any) != 0;

    /// <summary>How long no request has been in flight (zero while one is).</summary>
    public TimeSpan IdleFor => Volatile.Read(ref _inFlight) > 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(Volatile.Read(ref _lastChange));

    public void Begin()
    {
        Interlocked.Increment(ref _inFlight);
        Volatile.Write(ref _any, 1);
        Volatile.Write(ref _lastChange, Stopwatch.GetTimestamp());
    }

    public void End()
    {
        Volatile.Write(ref _lastChange, Stopwatch.GetTimestamp());
        Interlocked.Decrement(ref _inFlight);
    }
}
