using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using DinoMesh.Transport.Lean;

namespace DinoMesh.Transport.Client;

/// <summary>
/// The lean connection to one peer address (see <see cref="LeanWire"/>): dialled on first use with the link's client
/// certificate and server check, then shared by every small call to that peer. A peer whose handshake does not pick the
/// lean ALPN id does not serve the path; that is remembered, and its calls use HTTP/2.
/// </summary>
internal sealed class LeanLink : IDisposable
{
    // After a failed dial (refused, handshake failed: a peer without the path may fail the handshake rather than pick
    // no protocol), calls go over HTTP/2 for this long before the lean path is tried again.
    private static readonly TimeSpan DialBackoff = TimeSpan.FromSeconds(30);

    // After a refusal (not admitted there): shorter, since that is usually a peer that has not yet learnt of this node's
    // admission, a moment after a join; meanwhile HTTP/2 carries the calls and says why they are refused.
    private static readonly TimeSpan RefusalBackoff = TimeSpan.FromSeconds(2);

    private readonly string _host;
    private readonly int _port;
    private readonly SslClientAuthenticationOptions _tls;
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _pingTimeout;
    private readonly TimeSpan? _postLiveness;
    private readonly System.Net.IPAddress? _source;
    private readonly AdmissionHint _hint;
    private readonly SemaphoreSlim _dialing = new(1, 1);
    private readonly Lean.DedicatedReaders? _readers;
    private LeanConnection? _current;
    private volatile bool _unsupported;
    private long _retryAt;
    private int _disposed;

    /// <param name="source">The local address to dial from (<see cref="DialSource"/>), or null for the kernel's choice.</param>
    /// <param name="hint">The admission version this node presents on every new connection.</param>
    /// <param name="postLiveness">See <see cref="LeanConnection.DefaultPostLivenessInterval"/>; null: that default.</param>
    public LeanLink(Uri peer, SslStreamCertificateContext certificate, RemoteCertificateValidationCallback validateServer, TimeSpan connectTimeout, TimeSpan pingTimeout, System.Net.IPAddress? source = null, AdmissionHint? hint = null,
        Lean.DedicatedReaders? readers = null, TimeSpan? postLiveness = null)
    {
        _postLiveness = postLiveness;
        _readers = readers;
        _source = source;
        _hint = hint ?? new AdmissionHint();
        _host = peer.DnsSafeHost;
        _port = peer.Port;
        _connectTimeout = connectTimeout;
        _pingTimeout = pingTimeout;
        _tls = PeerTls.ClientOptions(certificate, validateServer, _host, LeanWire.Alpn);
    }

    /// <summary>A connection is up and usable: a call or post need not dial first.</summary>
    public bool HasConnection => Volatile.Read(ref _current) is { } current && current.Usable(_pingTimeout);

    /// <summary>False once the peer showed it does not serve the lean path, and for a while after a failed dial.</summary>
    public bool Supported => !_unsupported && Stopwatch.GetTimestamp() >= Volatile.Read(ref _retryAt);

    /// <summary>
    /// One call. <see cref="LeanOutcome.NotSent"/> when the server never read it (no connection could be had, or the
    /// server said goaway before reading it, twice in a row); <see cref="LeanOutcome.Lost"/> when the connection ended
    /// after the call was written.
    /// </summary>
    public async Task<LeanReply> CallAsync(byte[] protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline, int maxAnswerBytes, long since, CancellationToken ct, bool answerInline = false)
    {
        for (var attempt = 0; ; attempt++)
        {
            LeanConnection? connection;
            try
            {
                connection = await ConnectionAsync(ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Volatile.Write(ref _retryAt, Stopwatch.GetTimestamp() + (long)(DialBackoff.TotalSeconds * Stopwatch.Frequency));
                return LeanReply.NotSent(e.Message);
            }
            if (connection is null) return LeanReply.NotSent("the peer does not serve the lean path");
            var reply = await connection.CallAsync(protocolId, request, deadline - Stopwatch.GetElapsedTime(since), maxAnswerBytes, ct, answerInline);
            if (connection.RefusedAtOnce)
            {
                // Not admitted there (or not yet): HTTP/2 says why, and the lean path rests a moment.
                Volatile.Write(ref _retryAt, Stopwatch.GetTimestamp() + (long)(RefusalBackoff.TotalSeconds * Stopwatch.Frequency));
                return reply;
            }
            // A goaway that overtook the call (the server closing an idle connection as it was sent): once more on a
            // fresh connection, since the server never read it.
            if (reply.Outcome != LeanOutcome.NotSent || attempt > 0) return reply;
        }
    }

    /// <summary>
    /// One post (see <see cref="LeanWire"/>): true once it is queued on a connection, which says nothing of its
    /// delivery. False (with why) when no connection takes it, or this peer refused an earlier post on the lean path,
    /// so the caller may send it another way.
    /// </summary>
    public async Task<(bool Queued, string Detail)> PostAsync(byte[] protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline, CancellationToken ct)
    {
        if (Volatile.Read(ref _current) is { RefusedAtOnce: true })
        {
            // Not admitted there (or not yet): as after a refused call, HTTP/2 carries the next messages for a moment
            // and says why they are refused.
            Volatile.Write(ref _retryAt, Stopwatch.GetTimestamp() + (long)(RefusalBackoff.TotalSeconds * Stopwatch.Frequency));
            Volatile.Write(ref _current, null);
            return (false, "refused on the lean path");
        }
        LeanConnection? connection;
        try
        {
            connection = await ConnectionAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            Volatile.Write(ref _retryAt, Stopwatch.GetTimestamp() + (long)(DialBackoff.TotalSeconds * Stopwatch.Frequency));
            return (false, e.Message);
        }
        if (connection is null) return (false, "the peer does not serve the lean path");
        return connection.Post(protocolId, request, deadline) ? (true, "") : (false, "the lean connection is closed");
    }

    private async ValueTask<LeanConnection?> ConnectionAsync(CancellationToken ct)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && current.Usable(_pingTimeout)) return current;
        await _dialing.WaitAsync(ct);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            current = _current;
            // One that is not usable any more is left alone: after a goaway it still answers the calls the server read,
            // and hangs up by itself once none is waiting; one that ended has already said so to its calls.
            if (current is not null && current.Usable(_pingTimeout)) return current;
            var fresh = await DialAsync(ct);
            Volatile.Write(ref _current, fresh);
            return fresh;
        }
        finally
        {
            _dialing.Release();
        }
    }

    /// <summary>A new connection, or null when the peer's handshake did not choose the lean path.</summary>
    private async Task<LeanConnection?> DialAsync(CancellationToken ct)
    {
        if (_readers is not null)
        {
            // A thread of its own dials, handshakes and then reads the connection (see DedicatedReaders), unless the budget is spent.
            var dialed = new TaskCompletionSource<LeanConnection?>(TaskCreationOptions.RunContinuationsAsynchronously);
            var options = PeerTls.Presenting(_tls, _hint);
            if (_readers.TryStart("dino-lean-out", () => DialAndRead(options, dialed, ct))) return await dialed.Task;
        }
        // Under the TLS stream, a socket stream that answers its zero-byte reads at once: over a bare NetworkStream each
        // answer cost a one-byte peek before its recv.
        var tls = await PeerTls.DialAsync(_host, _port, _source, PeerTls.Presenting(_tls, _hint), LeanWire.Alpn, _connectTimeout, ct,
            static socket => new Bulk.BulkSocketStream(socket, Bulk.BulkSocketStream.LeanReceiveBytes));
        if (tls is null)
        {
            _unsupported = true;
            return null;
        }
        return new LeanConnection(tls, postLiveness: _postLiveness);
    }

    /// <summary>The body of a reader thread: the dial, then the connection's reads until it ends.</summary>
    private void DialAndRead(SslClientAuthenticationOptions options, TaskCompletionSource<LeanConnection?> dialed, CancellationToken ct)
    {
        LeanConnection? connection = null;
        try
        {
            if (PeerTls.Dial(_host, _port, _source, options, LeanWire.Alpn, _connectTimeout, ct) is var (tls, _))
            {
                connection = new LeanConnection(tls, readOnCaller: true, _postLiveness);
            }
        }
        catch (Exception e)
        {
            dialed.TrySetException(e);
            return;
        }
        if (connection is null)
        {
            _unsupported = true;
            dialed.TrySetResult(null);
            return;
        }
        dialed.TrySetResult(connection);
        connection.ReadHere();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Interlocked.Exchange(ref _current, null)?.Dispose();
    }
}
