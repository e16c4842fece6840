using DinoMesh.Core.Buffers;
using DinoMesh.Transport;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// The chunk protocol over the peer transport: one unary call per request on <see cref="ProtocolIds.Chunk"/>, over the
/// bulk path (a TLS connection of its own) where the peer serves it. Every chunk request is idempotent, as that path needs.
/// </summary>
public sealed class TransportChunkNetwork : IChunkNetwork
{
    private readonly PeerTransport _transport;
    private readonly BufferPool? _answers;

    /// <param name="answers">
    /// Where chunk answers are received: the caller of a get then owns the buffer its chunk lies in (<see cref="ChunkCall.Lease"/>).
    /// Without it every answer is an array of its own.
    /// </param>
    public TransportChunkNetwork(PeerTransport transport, BufferPool? answers = null)
    {
        _transport = transport;
        _answers = answers;
    }

    public async Task<ChunkCall> CallAsync(ChunkPeer peer, ChunkRequest request, TimeSpan deadline, CancellationToken cancellationToken)
    {
        // A put whose bytes the replicator laid out behind their envelope (ChunkCodec.LayOutPut) is sent as it lies, with
        // no copy. Any other put (a megabyte) is encoded into a pooled array, given back once a peer answered: the answer
        // came after the peer read the whole request, so nothing still reads it. After a failure the array is left to
        // the collector, as a send cut short by a fallback could in principle still be reading it.
        if (request is UsageQuery) return await AskAsync(peer, request, deadline, cancellationToken);
        if (request is GetChunk && _answers is not null) return await GetAsync(peer, request, deadline, cancellationToken);
        byte[]? pooled = null;
        ReadOnlyMemory<byte> message;
        if (request is not PutChunk put) message = ChunkCodec.Encode(request);
        else if (!ChunkCodec.TryEncoded(put, out message))
        {
            (pooled, var length) = ChunkCodec.EncodePooled(put);
            message = pooled.AsMemory(0, length);
        }
        var call = await _transport.CallBulkAsync(peer.Address, peer.Id, ProtocolIds.Chunk, message, deadline, cancellationToken, ChunkCodec.MaxMessageBytes);
        if (pooled is not null && call.Ok) System.Buffers.ArrayPool<byte>.Shared.Return(pooled);
        return Decode(call);
    }

    /// <summary>
    /// A get whose answer is received into a pooled buffer and decoded in place: a found chunk's bytes are a slice of it,
    /// and the buffer goes to the caller with the answer. Any other answer (missing, undecodable) gives it back here.
    /// The buffer is lent so that a found chunk's first byte (not the answer's) starts a page: the import writes the
    /// chunk file with O_DIRECT straight from it (<see cref="Storage.Chunks.ChunkStore.ImportFetched"/>), with no copy into
    /// aligned memory first.
    /// </summary>
    private async Task<ChunkCall> GetAsync(ChunkPeer peer, ChunkRequest request, TimeSpan deadline, CancellationToken cancellationToken)
    {
        var call = await _transport.CallBulkAsync(peer.Address, peer.Id, ProtocolIds.Chunk, ChunkCodec.Encode(request), deadline, _answers, cancellationToken,
            ChunkCodec.MaxMessageBytes, ChunkCodec.FoundChunkOffset);
        if (!call.Ok) return ChunkCall.Failed($"{call.Failure}: {call.Detail}");
        var buffer = call.Value!;
        var handedOver = false;
        try
        {
            var answer = ChunkCodec.DecodeAnswer(buffer.Memory);
            handedOver = answer is ChunkFound;
            return new ChunkCall(answer, "", handedOver ? buffer : null);
        }
        catch (InvalidDataException e)
        {
            return ChunkCall.Failed($"{CallFailure.BadResponse}: {e.Message}");
        }
        finally
        {
            if (!handedOver) buffer.Release();
        }
    }

    /// <summary>
    /// A question of a few bytes goes as an ordinary small call (the lean path, whose connection SWIM keeps open) rather
    /// than over a bulk connection, which after a minute idle costs a handshake per peer.
    /// </summary>
    private async Task<ChunkCall> AskAsync(ChunkPeer peer, ChunkRequest request, TimeSpan deadline, CancellationToken cancellationToken) =>
        Decode(await _transport.CallAsync(peer.Address, peer.Id, ProtocolIds.Chunk, ChunkCodec.Encode(request), deadline, cancellationToken, ChunkCodec.MaxMessageBytes, idempotent: true));

    private static ChunkCall Decode(CallResult<byte[]> call)
    {
        if (!call.Ok) return ChunkCall.Failed($"{call.Failure}: {call.Detail}");
        try
        {
            return new ChunkCall(ChunkCodec.DecodeAnswer(call.Value));
        }
        catch (InvalidDataException e)
        {
            return ChunkCall.Failed($"{CallFailure.BadResponse}: {e.Message}");
        }
    }
}
