using DinoMesh.Transport;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// The chunk protocol over the peer transport: one unary call per request on <see cref="ProtocolIds.Chunk"/>, over the
/// bulk path (a TLS connection of its own) where the peer serves it. Every chunk request is idempotent, as that path needs.
/// </summary>
public sealed class TransportChunkNetwork : IChunkNetwork
{
    private readonly PeerTransport _transport;

    public TransportChunkNetwork(PeerTransport transport) => _transport = transport;

    public async Task<ChunkCall> CallAsync(ChunkPeer peer, ChunkRequest request, TimeSpan deadline, CancellationToken cancellationToken)
    {
        // A put (a megabyte) is encoded into a pooled array, given back once a peer answered: the answer came after the
        // peer read the whole request, so nothing still reads it. After a failure the array is left to the collector,
        // as a send cut short by a fallback could in principle still be reading it.
        var (pooled, length) = request is PutChunk put ? ChunkCodec.EncodePooled(put) : (null, 0);
        var call = await _transport.CallBulkAsync(peer.Address, peer.Id, ProtocolIds.Chunk,
            pooled is null ? ChunkCodec.Encode(request) : pooled.AsMemory(0, length), deadline, cancellationToken, ChunkCodec.MaxMessageBytes);
        if (pooled is not null && call.Ok) System.Buffers.ArrayPool<byte>.Shared.Return(pooled);
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
