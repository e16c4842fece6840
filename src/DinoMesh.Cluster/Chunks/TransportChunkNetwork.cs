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
        var call = await _transport.CallBulkAsync(peer.Address, peer.Id, ProtocolIds.Chunk, ChunkCodec.Encode(request), deadline,
            cancellationToken, ChunkCodec.MaxMessageBytes);
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
