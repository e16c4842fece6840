using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using DinoMesh.Core.Identity;
using DinoMesh.Transport.Bulk;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Serves one bulk connection (see <see cref="BulkWire"/>): admitted members only, one call at a time, each to the
/// same unary handler an HTTP/2 call of that protocol reaches, with the same bounds, deadlines and failures. A
/// malformed or refused request ends the connection after its answer; an idle one ends after <see cref="IdleTimeout"/>.
/// </summary>
internal sealed class BulkServer
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How long the rest of a request may take to arrive once its first bytes did (a MiB takes milliseconds).</summary>
    private static readonly TimeSpan RequestReadTimeout = TimeSpan.FromSeconds(30);

    private readonly ProtocolTable _protocols;
    private readonly IAdmission _admission;
    private readonly Action<PeerContext, Exception, CancellationToken> _logFailure;
    private readonly RefusalLog _refusals;

    public BulkServer(ProtocolTable protocols, IAdmission admission, RefusalLog refusals, Action<PeerContext, Exception, CancellationToken> logFailure)
    {
        _protocols = protocols;
        _admission = admission;
        _refusals = refusals;
        _logFailure = logFailure;
    }

    /// <summary>A bulk connection Kestrel accepted and took through TLS (a client whose ClientHello the listener could not read in time).</summary>
    public Task ServeAsync(ConnectionContext connection, PeerId peer, ConnectionActivity activity)
    {
        // The TLS stream itself where Kestrel lends it: the connection's pipes would copy every byte once more (TLS
        // stream to pipe, pipe to the request) and add a hand-off per read. Nothing else reads or writes the pipes of a
        // bulk connection, so the two never interleave.
        var tls = connection.Features.Get<ISslStreamFeature>()?.SslStream;
        var input = tls ?? connection.Transport.Input.AsStream(leaveOpen: true);
        var output = tls ?? connection.Transport.Output.AsStream(leaveOpen: true);
        // The server stopping asks every connection to close: an idle one ends at once, a call in flight first finishes.
        var closeRequested = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        // The first request's deadline is the connection watch's (it sees this connection too); then the idle timeout.
        return ServeAsync(input, output, peer, connection.RemoteEndPoint as IPEndPoint, activity, connection.ConnectionClosed, closeRequested, IdleTimeout);
    }

    /// <summary>
    /// Serves calls on a connection already through TLS and admitted at its handshake, until the caller hangs up, a
    /// call ends it, it stays idle past <see cref="IdleTimeout"/> (the first call past <paramref name="firstRequest"/>),
    /// <paramref name="closeRequested"/> fires while it is idle, or <paramref name="closed"/> fires.
    /// </summary>
    public async Task ServeAsync(
        Stream input, Stream output, PeerId peer, IPEndPoint? remote, ConnectionActivity activity,
        CancellationToken closed, CancellationToken closeRequested, TimeSpan firstRequest)
    {
        try
        {
            var idle = firstRequest;
            while (await ServeOneAsync(input, output, peer, remote, activity, idle, closed, closeRequested))
            {
                idle = IdleTimeout;
            }
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or OperationCanceledException or ConnectionResetException or ObjectDisposedException)
        {
            // The caller hung up or went silent past the idle timeout: nothing to answer.
        }
    }

    /// <summary>One call; false when the connection should end.</summary>
    private async Task<bool> ServeOneAsync(
        Stream input, Stream output, PeerId peer, IPEndPoint? remote, ConnectionActivity activity, TimeSpan idleTimeout, CancellationToken closed, CancellationToken closeRequested)
    {
        if (closeRequested.IsCancellationRequested) return false;
        var fixedPart = new byte[2];
        using (var idle = CancellationTokenSource.CreateLinkedTokenSource(closed, closeRequested))
        {
            idle.CancelAfter(idleTimeout);
            if (!await BulkWire.ReadExactlyOrEndAsync(input, fixedPart, idle.Token)) return false;
        }
        activity.Begin();
        try
        {
            using var reading = CancellationTokenSource.CreateLinkedTokenSource(closed);
            reading.CancelAfter(RequestReadTimeout);
            var idLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart);
            if (idLength is 0 or > BulkWire.MaxProtocolIdBytes)
            {
                await AnswerAsync(output, CallFailure.BadRequest, $"protocol id of {idLength} bytes", closed);
                return false;
            }
            var rest = new byte[idLength + 8];
            await ReadExactlyAsync(input, rest, reading.Token);
            var protocolId = Encoding.UTF8.GetString(rest, 0, idLength);
            var deadline = TimeSpan.FromMilliseconds(Math.Min(BinaryPrimitives.ReadUInt32BigEndian(rest.AsSpan(idLength)), (long)WireHeaders.MaxDeadline.TotalMilliseconds));
            var length = BinaryPrimitives.ReadUInt32BigEndian(rest.AsSpan(idLength + 4));

            if (!_admission.IsAdmitted(peer))
            {
                _refusals.Refused(Microsoft.Extensions.Logging.LogLevel.Warning, "requests refused (not an admitted member)", remote is null ? "?" : AddressKey.Of(remote.Address).ToString(),
                    "refused {Peer} from {Remote} for {Path}: {Reason}; closing the connection", peer.Hex, remote?.Address, protocolId, "not an admitted member");
                await AnswerAsync(output, CallFailure.Refused, "not an admitted member", closed);
                return false;
            }
            if (_protocols.Find(protocolId) is not { Unary: { } handler } registration)
            {
                await AnswerAsync(output, CallFailure.UnknownProtocol, $"protocol {protocolId} is not served on the bulk path here", closed);
                return false;
            }
            if (length > (uint)registration.MaxRequestBytes)
            {
                var tooLarge = new Framing.FrameException(Framing.FrameError.TooLarge, $"frame of {length} bytes exceeds the bound of {registration.MaxRequestBytes}");
                _logFailure(new PeerContext(peer, true, remote, protocolId, WireHeaders.Bulk), tooLarge, closed);
                await AnswerAsync(output, CallFailure.TooLarge, tooLarge.Message, closed);
                return false;
            }
            // A request is only lent to its handler until the handler's task completes (see UnaryHandler), so a large
            // one (a chunk put) is read into a pooled array: a fresh megabyte per call costs page faults and zeroing.
            var pooled = length >= PooledRequestBytes ? ArrayPool<byte>.Shared.Rent((int)length) : null;
            try
            {
                return await AnswerOneAsync(input, output, peer, remote, protocolId, deadline, registration.Lending ?? Copied(handler),
                    pooled is null ? new byte[length] : pooled.AsMemory(0, (int)length), reading.Token, closed);
            }
            finally
            {
                if (pooled is not null) ArrayPool<byte>.Shared.Return(pooled);
            }
        }
        finally
        {
            activity.End();
        }
    }

    /// <summary>Requests at least this large are read into pooled arrays.</summary>
    private const int PooledRequestBytes = 64 * 1024;

    /// <summary>An array-answering handler in the lending shape (an answer that is all head, nothing lent).</summary>
    private static LendingUnaryHandler Copied(UnaryHandler handler) =>
        async (peer, request, ct) => new LentAnswer(await handler(peer, request, ct));

    private async Task<bool> AnswerOneAsync(
        Stream input, Stream output, PeerId peer, IPEndPoint? remote, string protocolId, TimeSpan deadline, LendingUnaryHandler handler,
        Memory<byte> request, CancellationToken reading, CancellationToken closed)
    {
        await ReadExactlyAsync(input, request, reading);

        var context = new PeerContext(peer, true, remote, protocolId, WireHeaders.Bulk);
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(closed);
        timer.CancelAfter(deadline);
        LentAnswer answer;
        try
        {
            answer = await handler(context, request, timer.Token);
        }
        catch (Exception e) when (!closed.IsCancellationRequested)
        {
            _logFailure(context, e, timer.Token);
            var (failure, detail) = PeerServer.Classify(e, timer.Token);
            await AnswerAsync(output, failure, detail, closed);
            // A refusal ends the connection, as on HTTP/2; any other failure leaves it usable.
            return failure != CallFailure.Refused;
        }
        var lent = answer.Body?.Length ?? 0;
        await WriteAnswerAsync(output, answer, closed);
        TransportMetrics.Exchanged(peer, protocolId, answer.Length, request.Length, lent);
        return true;
    }

    /// <summary>
    /// The answer with its header in the same first TLS record: header, the answer's head and its body's first bytes (up
    /// to one record) are copied into one write, the rest of the body is written as it lies (straight from a lent
    /// buffer), which the TLS stream cuts into 16 KiB records. A header written alone would cost a record and a send of
    /// its own per call. A lent body is released here, once, after its last byte was written or the write failed: the
    /// TLS stream has encrypted from it by the time its write completes, and reads nothing of it after.
    /// </summary>
    private static async Task WriteAnswerAsync(Stream output, LentAnswer answer, CancellationToken ct)
    {
        try
        {
            var body = answer.Body is null ? ReadOnlyMemory<byte>.Empty : answer.Body.Memory;
            var fromHead = Math.Min(answer.Head.Length, BulkWire.CoalescedBytes - BulkWire.AnswerHeaderSize);
            var fromBody = Math.Min(body.Length, Math.Max(0, BulkWire.CoalescedBytes - BulkWire.AnswerHeaderSize - fromHead));
            var head = ArrayPool<byte>.Shared.Rent(BulkWire.AnswerHeaderSize + fromHead + fromBody);
            try
            {
                BulkWire.AnswerHeader(CallFailure.None, answer.Length).CopyTo(head, 0);
                answer.Head.Span[..fromHead].CopyTo(head.AsSpan(BulkWire.AnswerHeaderSize));
                body.Span[..fromBody].CopyTo(head.AsSpan(BulkWire.AnswerHeaderSize + fromHead));
                await output.WriteAsync(head.AsMemory(0, BulkWire.AnswerHeaderSize + fromHead + fromBody), ct);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(head);
            }
            if (fromHead < answer.Head.Length) await output.WriteAsync(answer.Head[fromHead..], ct);
            if (fromBody < body.Length) await output.WriteAsync(body[fromBody..], ct);
            await output.FlushAsync(ct);
        }
        finally
        {
            answer.Body?.Release();
        }
    }

    private static async Task ReadExactlyAsync(Stream input, Memory<byte> target, CancellationToken ct)
    {
        if (!await BulkWire.ReadExactlyOrEndAsync(input, target, ct) && target.Length > 0)
        {
            throw new EndOfStreamException("the connection ended inside a request");
        }
    }

    private static async Task AnswerAsync(Stream output, CallFailure failure, string reason, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(reason.Length > BulkWire.MaxReasonBytes / 4 ? reason[..(BulkWire.MaxReasonBytes / 4)] : reason);
        await output.WriteAsync(BulkWire.AnswerHeader(failure, bytes.Length), ct);
        await output.WriteAsync(bytes, ct);
        await output.FlushAsync(ct);
    }
}
