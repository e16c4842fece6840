using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests;

/// <summary>The chunk protocol over the real transport: mutual TLS 1.3, HTTP/2, the wire codec, bounds and deadlines.</summary>
public sealed class TransportChunkTests : IAsyncDisposable
{
    private readonly Admission _admission = new();
    private readonly List<TlsNode> _nodes = [];

    private async Task<TlsNode> Node(Func<ChunkServer, Func<PeerContext, ReadOnlyMemory<byte>, CancellationToken, ValueTask<byte[]>>>? wrap = null)
    {
        var node = await new TlsNode(_admission, wrap).StartAsync();
        _nodes.Add(node);
        return node;
    }

    [Fact]
    public async Task A_full_chunk_is_fetched_over_mutual_TLS_and_verified()
    {
        var holder = await Node();
        var reader = await Node();
        var bytes = Peers.RandomBytes(1 << 20, 1);
        var id = holder.Store.Add(bytes);
        var live = new LiveSet();
        live.Set([holder.Peer, reader.Peer]);
        var fetcher = new ChunkFetcher(reader.Network, new FixedCluster(reader.Peer.Id, live), new ChunkLocations(), new ChunkOptions(), TimeProvider.System, NullLogger.Instance);

        var fetched = await fetcher.FetchAsync(id, TestContext.Current.CancellationToken);

        Assert.True(fetched.Ok, fetched.Detail);
        Assert.Equal(bytes, fetched.Chunk!.Value.Bytes.ToArray());
    }

    [Fact]
    public async Task A_peer_serving_damaged_bytes_over_TLS_is_caught_and_the_next_one_serves()
    {
        var liar = await Node(server => async (peer, body, ct) =>
        {
            var answer = ChunkCodec.DecodeAnswer(await server.HandleAsync(peer, body, ct));
            return ChunkCodec.Encode(answer is ChunkFound found ? new ChunkFound(found.Bytes.ToArray().AsEnumerable().Reverse().ToArray()) : answer);
        });
        var honest = await Node();
        var reader = await Node();
        var bytes = Peers.RandomBytes(300_000, 2);
        var id = liar.Store.Add(bytes);
        honest.Store.Add(bytes);
        var live = new LiveSet();
        live.Set([liar.Peer, honest.Peer, reader.Peer]);
        var locations = new ChunkLocations();
        locations.Proposed(id, liar.Identity.PeerId);
        var fetcher = new ChunkFetcher(reader.Network, new FixedCluster(reader.Peer.Id, live), locations, new ChunkOptions(), TimeProvider.System, NullLogger.Instance);

        var fetched = await fetcher.FetchAsync(id, TestContext.Current.CancellationToken);

        Assert.True(fetched.Ok, fetched.Detail);
        Assert.Equal(bytes, fetched.Chunk!.Value.Bytes.ToArray());
        Assert.Equal(1, fetcher.Counters.BadAnswers);
        Assert.True(fetcher.IsAvoided(liar.Identity.PeerId));
    }

    [Fact]
    public async Task Put_has_sync_and_usage_round_trip()
    {
        var target = await Node();
        var caller = await Node();
        var bytes = Peers.RandomBytes(70_000, 3);
        var id = ChunkId.Of(bytes);
        var ct = TestContext.Current.CancellationToken;
        var deadline = TimeSpan.FromSeconds(10);

        var put = await caller.Network.CallAsync(target.Peer, new PutChunk(id, bytes), deadline, ct);
        Assert.Equal(PutOutcome.Stored, Assert.IsType<PutAnswer>(put.Answer).Outcome);
        var again = await caller.Network.CallAsync(target.Peer, new PutChunk(id, bytes), deadline, ct);
        Assert.Equal(PutOutcome.AlreadyPresent, Assert.IsType<PutAnswer>(again.Answer).Outcome);
        var has = await caller.Network.CallAsync(target.Peer, new HasChunks([id, ChunkId.Of("no"u8)]), deadline, ct);
        Assert.Equal([true, false], Assert.IsType<HasAnswer>(has.Answer).Held);
        var sync = await caller.Network.CallAsync(target.Peer, new SyncChunks(), deadline, ct);
        Assert.True(Assert.IsType<SyncAnswer>(sync.Answer).Ok);
        Assert.Equal(1, target.Store.SyncCount);
        var usage = await caller.Network.CallAsync(target.Peer, new UsageQuery(), deadline, ct);
        Assert.Equal(2 + 4 + 6, Assert.IsType<UsageAnswer>(usage.Answer).StoredBytes);
    }

    [Fact]
    public async Task A_request_over_the_protocol_bound_is_refused_and_the_connection_still_serves()
    {
        var target = await Node();
        var caller = await Node();
        var ct = TestContext.Current.CancellationToken;
        var tooBig = new byte[ChunkCodec.MaxMessageBytes + 1];

        var refused = await caller.Transport.CallAsync(target.Peer.Address, target.Identity.PeerId, ProtocolIds.Chunk, tooBig, TimeSpan.FromSeconds(10), ct);
        Assert.Equal(CallFailure.TooLarge, refused.Failure);
        var garbage = await caller.Transport.CallAsync(target.Peer.Address, target.Identity.PeerId, ProtocolIds.Chunk, new byte[] { 0x92, 0x63, 0x90 }, TimeSpan.FromSeconds(10), ct);
        Assert.Equal(CallFailure.BadRequest, garbage.Failure);

        var bytes = Peers.RandomBytes(1000, 4);
        var id = target.Store.Add(bytes);
        var get = await caller.Network.CallAsync(target.Peer, new GetChunk(id), TimeSpan.FromSeconds(10), ct);
        Assert.Equal(bytes, Assert.IsType<ChunkFound>(get.Answer).Bytes.ToArray());
    }

    [Fact]
    public async Task A_peer_that_is_not_admitted_is_refused()
    {
        var target = await Node();
        var stranger = new TlsNode(new Admission());
        await stranger.StartAsync();
        _nodes.Add(stranger);
        // The stranger admitted itself only in its own set: the target does not know it.
        var call = await stranger.Network.CallAsync(target.Peer, new GetChunk(ChunkId.Of("x"u8)), TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.False(call.Ok);
        Assert.StartsWith(nameof(CallFailure.Refused), call.Failure);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var n in _nodes) await n.DisposeAsync();
    }
}
