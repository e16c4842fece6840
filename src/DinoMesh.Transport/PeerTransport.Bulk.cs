using System.Diagnostics;
using DinoMesh.Core.Buffers;
using DinoMesh.Core.Identity;

namespace DinoMesh.Transport;

public sealed partial class PeerTransport
{
    /// <summary>
    /// A unary call for bulk bytes: over a plain mutual-TLS connection of its own when the peer serves the bulk path
    /// (about a third of HTTP/2's CPU per MiB here), else over HTTP/2 as <see cref="CallAsync"/> would. Same identity rules,
    /// bounds, deadline and failures. Only for idempotent protocols: a call whose connection broke before it was sent
    /// goes again over HTTP/2, and a reused idle connection found closed is replaced once.
    /// </summary>
    public async Task<CallResult<byte[]>> CallBulkAsync(
        string address, PeerId? expectedPeer, string protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline,
        CancellationToken ct = default, int maxResponseBytes = 0)
    {
        var call = await CallBulkAsync(address, expectedPeer, protocolId, request, deadline, null, ct, maxResponseBytes);
        if (!call.Ok) return call.As<byte[]>();
        // Without a pool the answer is a plain array of its own, whole.
        var segment = call.Value!.Segment;
        var array = segment.Offset == 0 && segment.Count == segment.Array!.Length ? segment.Array : segment.ToArray();
        return CallResult<byte[]>.Success(array, call.Peer, call.Elapsed);
    }

    /// <summary>
    /// <see cref="CallBulkAsync(string, PeerId?, string, ReadOnlyMemory{byte}, TimeSpan, CancellationToken, int)"/>
    /// with the answer received into a buffer from <paramref name="answers"/> (a plain array when null or over HTTP/2),
    /// whose one reference the caller owns on success: release it once done with the answer. On failure nothing is lent.
    /// <paramref name="alignedAt"/>(length): which byte of a pooled answer of that length starts a page
    /// (<see cref="BufferPool.Rent"/>; 0, the first, when null).
    /// </summary>
    public async Task<CallResult<PooledBuffer>> CallBulkAsync(
        string address, PeerId? expectedPeer, string protocolId, ReadOnlyMemory<byte> request, TimeSpan deadline,
        BufferPool? answers, CancellationToken ct = default, int maxResponseBytes = 0, Func<int, int>? alignedAt = null)
    {
        if (!ProtocolIds.IsValid(protocolId)) throw new ArgumentException($"bad protocol id '{protocolId}'", nameof(protocolId));
        CheckDeadline(deadline);
        if (!TryMakeLink(address, expectedPeer, protocolId, out var link, out var badAddress)) return badAddress.As<PooledBuffer>();
        var maxResponse = maxResponseBytes > 0 ? maxResponseBytes : _options.DefaultMaxResponseBytes;
        if (!link.Bulk.Supported) return Wrapped(await CallHttpAsync(link, protocolId, request, deadline, maxResponse, Stopwatch.GetTimestamp(), ct));

        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct, _disposing.Token);
        timer.CancelAfter(deadline);
        var since = Stopwatch.GetTimestamp();
        try
        {
            var (outcome, failure, answer, detail) = await link.Bulk.CallAsync(protocolId, request, deadline, maxResponse, timer.Token, answers, alignedAt);
            var elapsed = Stopwatch.GetElapsedTime(since);
            if (outcome == Client.BulkOutcome.NotSent)
            {
                // Over HTTP/2 (not the lean path: chunk answers are large, and would hold up the small calls sharing it).
                return Wrapped(await CallHttpAsync(link, protocolId, request, deadline, maxResponse, since, ct));
            }
            if (failure != CallFailure.None) return Failed(link, failure, detail, since).As<PooledBuffer>();
            link.RecordBulkSuccess(elapsed);
            TransportMetrics.Exchanged(link.Seen, protocolId, request.Length, answer!.Length);
            return CallResult<PooledBuffer>.Success(answer, link.Seen, elapsed);
        }
        catch (Exception e)
        {
            var (failure, detail) = Client.ClientFailures.Classify(e, ct, timer, link, since);
            return Failed(link, failure, detail, since).As<PooledBuffer>();
        }
    }

    private static CallResult<PooledBuffer> Wrapped(CallResult<byte[]> call) =>
        call.Ok ? CallResult<PooledBuffer>.Success(PooledBuffer.Unpooled(call.Value!), call.Peer, call.Elapsed) : call.As<PooledBuffer>();
}
