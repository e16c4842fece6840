using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using DinoMesh.Core.Buffers;
using DinoMesh.Transport.Bulk;
using DinoMesh.Transport.Framing;

namespace DinoMesh.Transport.Client;

/// <summary>
/// The bulk connections to one peer address (see <see cref="BulkWire"/>): dialled on demand with the link's client
/// certificate and server check, one call at a time each, kept idle for reuse up to a bound. A peer whose handshake
/// does not pick the bulk ALPN id does not serve the path; that is remembered and every later call uses HTTP/2.
/// </summary>
internal sealed class BulkPool : IDisposable
{
    // An idle connection older than this is not reused: the server drops idle bulk connections after a minute.
    private static readonly TimeSpan MaxIdle = TimeSpan.FromSeconds(30);

    private readonly string _host;
    private readonly int _port;
    private readonly System.Net.IPAddress? _source;
    private readonly SslClientAuthenticationOptions _tls;
    private readonly AdmissionHint _hint;
    private readonly TimeSpan _connectTimeout;
    private readonly int _maxIdle;
    private readonly ConcurrentQueue<Connection> _idle = new();
    private volatile bool _unsupported;
    private int _disposed;

    /// <param name="source">The local address to dial from (<see cref="DialSource"/>), or null for the kernel's choice.</param>
    /// <param name="hint">The admission version this node presents on every new connection.</param>
    public BulkPool(Uri peer, SslStreamCertificateContext certificate, RemoteCertificateValidationCallback validateServer, TimeSpan connectTimeout, int maxIdle, System.Net.IPAddress? source = null, AdmissionHint? hint = null)
    {
        _source = source;
        _hint = hint ?? new AdmissionHint();
        _host = peer.DnsSafeHost;
        _port = peer.Port;
        _connectTimeout = connectTimeout;
        _maxIdle = maxIdle;
        _tls = PeerTls.ClientOptions(certificate, validateServer, _host, BulkWire.Alpn);
    }

    // After a failed dial (refused, handshake failed: a peer without the path may fail the handshake rather than pick
    // no protocol), calls go over HTTP/2 for this long before the bulk path is tried again.
    private static readonly TimeSpan DialBackoff = TimeSpan.FromSeconds(30);
    private long _retryAt;

    /// <summary>False once the peer showed it does not serve the bulk path, and for a while after a failed dial.</summary>
    public bool Supported => !_unsupported && Stopwatch.GetTimestamp() >= Volatile.Read(ref _retryAt);

    /// <summary>
    /// One call. <see cref="BulkOutcome.NotSent"/> when no connection could carry it (connect, handshake, or a peer
    /// without the path): the caller may send it another way. A reused connection that turns out closed is replaced
    /// once, transparently. A successful answer is received into a buffer from <paramref name="answers"/> (a plain
    /// array without one) whose one reference is the caller's; on every other way out the buffer is released here.
    /// <paramref name="alignedAt"/>(length) names the byte of a successful answer of that length that is to start a page
    /// (<see cref="BufferPool.Rent"/>), so a payload behind a header can be written with O_DIRECT from where it landed.
    /// </summary>
    public async Task<(BulkOutcome Outcome, CallFailure Failure, PooledBuffer? Answer, string Detail)> CallAsync(
        string protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline, int maxAnswerBytes, CancellationToken ct, BufferPool? answers = null,
        Func<int, int>? alignedAt = null)
    {
        var header = BulkWire.RequestHeader(protocolId, deadline, request.Length);
        for (var attempt = 0; ; attempt++)
        {
            var connection = TakeIdle();
            var reused = connection is not null;
            if (connection is null)
            {
                try
                {
                    connection = await DialAsync(ct);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    Volatile.Write(ref _retryAt, Stopwatch.GetTimestamp() + (long)(DialBackoff.TotalSeconds * Stopwatch.Frequency));
                    return (BulkOutcome.NotSent, CallFailure.Unreachable, null, e.Message);
                }
                if (connection is null) return (BulkOutcome.NotSent, CallFailure.Unreachable, null, "the peer does not serve the bulk path");
            }
            var sent = false;
            PooledBuffer? received = null;
            try
            {
                await WriteRequestAsync(connection.Tls, header, request, ct);
                await connection.Tls.FlushAsync(ct);
                sent = true;
                var answerHeader = new byte[BulkWire.AnswerHeaderSize];
                if (!await BulkWire.ReadExactlyOrEndAsync(connection.Tls, answerHeader, ct)) throw new EndOfStreamException("the peer closed the connection");
                var status = (CallFailure)answerHeader[0];
                var length = BinaryPrimitives.ReadUInt32BigEndian(answerHeader.AsSpan(1));
                var bound = status == CallFailure.None ? maxAnswerBytes : BulkWire.MaxReasonBytes;
                if (length > (uint)bound)
                {
                    connection.Dispose();
                    throw new FrameException(FrameError.TooLarge, $"answer of {length} bytes exceeds the bound of {bound}");
                }
                // Not cleared first (a megabyte of zeroes for a chunk answer): the read fills it, or the call fails and
                // releases it. The TLS stream decrypts into the buffer only inside a read, so once a read has ended (even
                // cancelled or failed) nothing writes to it any more and releasing it is safe.
                received = status == CallFailure.None && answers is not null
                    ? answers.Rent((int)length, alignedAt?.Invoke((int)length) ?? 0)
                    : PooledBuffer.Unpooled(length == 0 ? [] : GC.AllocateUninitializedArray<byte>((int)length));
                if (length > 0 && !await BulkWire.ReadExactlyOrEndAsync(connection.Tls, received.Memory, ct)) throw new EndOfStreamException("the peer closed the connection inside an answer");
                // After a failure the server may end the connection (it does after a refusal, an unknown protocol or
                // an oversized request); only a connection that just carried a success goes back to the pool.
                if (status == CallFailure.None) Return(connection);
                else connection.Dispose();
                if (status == CallFailure.None)
                {
                    var answer = received;
                    received = null;
                    return (BulkOutcome.Answered, CallFailure.None, answer, "");
                }
                return (BulkOutcome.Answered, status, null, Encoding.UTF8.GetString(received.Memory.Span));
            }
            catch (Exception e) when (reused && attempt == 0 && e is IOException or EndOfStreamException && !ct.IsCancellationRequested)
            {
                // The idle connection had been closed by the server: the request never reached a handler (or reached
                // one that will see its caller gone). Bulk calls are idempotent; try once on a fresh connection.
                connection.Dispose();
            }
            catch (Exception e)
            {
                connection.Dispose();
                if (e is FrameException) return (BulkOutcome.Answered, CallFailure.TooLarge, null, e.Message);
                // Cut without an answer (a server that refuses a connection closes it; one that died mid-call too):
                // HTTP/2 gives the caller a typed answer, or a typed failure, for the same idempotent call.
                if ((!sent || e is IOException or EndOfStreamException) && !ct.IsCancellationRequested) return (BulkOutcome.NotSent, CallFailure.Unreachable, null, e.Message);
                throw;
            }
            finally
            {
                // Every way out but a success (which handed the buffer over and cleared this) gives the buffer back.
                received?.Release();
            }
        }
    }

    /// <summary>
    /// Header and the request's first bytes go out in one write (one TLS record, up to a full one), the rest as it lies:
    /// a header written alone would cost a record and a send of its own per call.
    /// </summary>
    private static async Task WriteRequestAsync(SslStream tls, byte[] header, ReadOnlyMemory<byte> request, CancellationToken ct)
    {
        var first = Math.Min(request.Length, Math.Max(0, BulkWire.CoalescedBytes - header.Length));
        var head = System.Buffers.ArrayPool<byte>.Shared.Rent(header.Length + first);
        try
        {
            header.CopyTo(head, 0);
            request.Span[..first].CopyTo(head.AsSpan(header.Length));
            await tls.WriteAsync(head.AsMemory(0, header.Length + first), ct);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(head);
        }
        if (first < request.Length) await tls.WriteAsync(request[first..], ct);
    }

    private Connection? TakeIdle()
    {
        while (_idle.TryDequeue(out var connection))
        {
            if (Stopwatch.GetElapsedTime(connection.IdleSince) < MaxIdle) return connection;
            connection.Dispose();
        }
        return null;
    }

    private void Return(Connection connection)
    {
        if (Volatile.Read(ref _disposed) != 0 || _idle.Count >= _maxIdle)
        {
            connection.Dispose();
            return;
        }
        connection.IdleSince = Stopwatch.GetTimestamp();
        _idle.Enqueue(connection);
    }

    /// <summary>A new connection, or null when the peer's handshake did not choose the bulk path.</summary>
    private async Task<Connection?> DialAsync(CancellationToken ct)
    {
        // Answers (a chunk get's megabyte) are read 64 KiB per recv, as the server reads requests.
        var tls = await PeerTls.DialAsync(_host, _port, _source, PeerTls.Presenting(_tls, _hint), BulkWire.Alpn, _connectTimeout, ct, static socket => new BulkSocketStream(socket));
        if (tls is null)
        {
            _unsupported = true;
            return null;
        }
        return new Connection(tls);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        while (_idle.TryDequeue(out var connection)) connection.Dispose();
    }

    private sealed class Connection(SslStream tls) : IDisposable
    {
        public SslStream Tls { get; } = tls;

        public long IdleSince { get; set; }

        public void Dispose() => Tls.Dispose();
    }
}

/// <summary>Whether a bulk call reached the peer.</summary>
internal enum BulkOutcome
{
    /// <summary>No connection carried it; the caller may use HTTP/2.</summary>
    NotSent,

    /// <summary>The peer answered (with the answer or a typed failure).</summary>
    Answered,
}
