using System.Collections.Concurrent;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Identity;

namespace DinoMesh.Chunks.Tests.Fakes;

/// <summary>
/// Chunk servers connected in memory. Every request and answer goes through the wire codec, so what a test sees is what
/// the transport would carry. A peer can be cut off, hang (a stopped process whose connections stay up: a call to it is
/// answered by nobody until its deadline or its caller gives up), and an answer can be replaced (a peer that serves bad bytes).
/// </summary>
internal sealed class InMemoryChunkNetwork : IChunkNetwork
{
    private readonly ConcurrentDictionary<PeerId, ChunkServer> _servers = new();
    private readonly ConcurrentDictionary<PeerId, bool> _down = new();
    private readonly ConcurrentDictionary<PeerId, bool> _hung = new();

    /// <summary>Every call made, in order: (caller-side target, request kind).</summary>
    public ConcurrentQueue<(PeerId To, ChunkRequest Request)> Calls { get; } = new();

    /// <summary>Replaces a peer's answer when it returns non-null.</summary>
    public Func<PeerId, ChunkRequest, ChunkAnswer, ChunkAnswer?>? Tamper { get; set; }

    public void Add(PeerId peer, ChunkServer server) => _servers[peer] = server;

    public void Cut(PeerId peer) => _down[peer] = true;

    public void Heal(PeerId peer) => _down.TryRemove(peer, out _);

    public void Hang(PeerId peer) => _hung[peer] = true;

    public IEnumerable<PeerId> AskedFor<T>() where T : ChunkRequest => Calls.Where(c => c.Request is T).Select(c => c.To);

    public async Task<ChunkCall> CallAsync(ChunkPeer peer, ChunkRequest request, TimeSpan deadline, CancellationToken cancellationToken)
    {
        Calls.Enqueue((peer.Id, request));
        if (_down.ContainsKey(peer.Id) || !_servers.TryGetValue(peer.Id, out var server)) return ChunkCall.Failed("Unreachable: cut off");
        if (_hung.ContainsKey(peer.Id))
        {
            try
            {
                await Task.Delay(deadline, cancellationToken);
                return ChunkCall.Failed("Timeout: deadline passed");
            }
            catch (OperationCanceledException)
            {
                return ChunkCall.Failed("Cancelled: the caller gave up");
            }
        }
        var decoded = ChunkCodec.DecodeRequest(ChunkCodec.Encode(request));
        var answer = await server.HandleAsync(Peers.Id("caller"), decoded, cancellationToken);
        if (Tamper?.Invoke(peer.Id, request, answer) is { } replaced) answer = replaced;
        return new ChunkCall(ChunkCodec.DecodeAnswer(ChunkCodec.Encode(answer)));
    }
}
