using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests;

public class ChunkFetcherTests
{
    private readonly InMemoryChunkNetwork _network = new();
    private readonly LiveSet _live = new();
    private readonly Dictionary<string, InMemoryChunks> _stores = [];
    private readonly ChunkPeer[] _peers = [.. "abcdef".Select(c => Peers.Peer(c.ToString()))];

    public ChunkFetcherTests()
    {
        _live.Set(_peers);
        foreach (var p in _peers)
        {
            var store = new InMemoryChunks();
            _stores[p.Address] = store;
            _network.Add(p.Id, new ChunkServer(store, new ChunkInventory(TimeProvider.System), () => new UsageAnswer(0, 0, 0, 0, 0, 0), NullLogger.Instance));
        }
    }

    private ChunkFetcher Fetcher(ChunkPeer self, ChunkLocations locations) =>
        new(_network, new FixedCluster(self.Id, _live), locations, new ChunkOptions { Replicas = 2 }, TimeProvider.System, NullLogger.Instance);

    private InMemoryChunks StoreOf(ChunkPeer p) => _stores[p.Address];

    [Fact]
    public void Candidates_are_the_proposer_then_placement_then_announcers_then_everyone_else_never_self()
    {
        var self = _peers[0];
        var id = ChunkId.Of("x"u8);
        var placement = ChunkPlacement.For(id, _peers, 2);
        var proposer = _peers.First(p => p != self && !placement.Contains(p));
        var announcer = _peers.First(p => p != self && p != proposer && !placement.Contains(p));
        var locations = new ChunkLocations();
        locations.Proposed(id, proposer.Id);
        locations.Holds(id, announcer.Id);

        var order = Fetcher(self, locations).Candidates(id);

        Assert.DoesNotContain(self, order);
        Assert.Equal(proposer, order[0]);
        Assert.Equal(placement.Where(p => p != self), order.Skip(1).Take(placement.Count(p => p != self)));
        var afterPlacement = order.Skip(1 + placement.Count(p => p != self)).ToList();
        Assert.Equal(announcer, afterPlacement[0]);
        Assert.Equal(_peers.Length - 1, order.Count);
    }

    [Fact]
    public async Task A_fetch_asks_the_proposer_first_and_stops_at_the_first_holder()
    {
        var self = _peers[0];
        var bytes = Peers.RandomBytes(10_000, 1);
        var id = ChunkId.Of(bytes);
        var proposer = _peers.First(p => p != self && !ChunkPlacement.For(id, _peers, 2).Contains(p));
        StoreOf(proposer).Add(bytes);
        var locations = new ChunkLocations();
        locations.Proposed(id, proposer.Id);

        var fetched = await Fetcher(self, locations).FetchAsync(id, CancellationToken.None);

        Assert.True(fetched.Ok);
        Assert.Equal(bytes, fetched.Chunk!.Value.Bytes.ToArray());
        Assert.Equal([proposer.Id], _network.AskedFor<GetChunk>());
    }

    [Fact]
    public async Task A_peer_serving_bad_bytes_is_caught_the_fetch_goes_on_and_the_peer_is_asked_last_afterwards()
    {
        var self = _peers[0];
        var bytes = Peers.RandomBytes(50_000, 2);
        var id = ChunkId.Of(bytes);
        var placement = ChunkPlacement.For(id, _peers.Where(p => p != self).ToArray(), 2);
        var liar = placement[0];
        var honest = placement[1];
        StoreOf(liar).Add(bytes);
        StoreOf(honest).Add(bytes);
        _network.Tamper = (to, request, answer) => to == liar.Id && answer is ChunkFound found ? new ChunkFound(found.Bytes.ToArray().Select(b => (byte)(b ^ 1)).ToArray()) : null;
        var locations = new ChunkLocations();
        locations.Proposed(id, liar.Id);
        var fetcher = Fetcher(self, locations);

        var fetched = await fetcher.FetchAsync(id, CancellationToken.None);

        Assert.True(fetched.Ok);
        Assert.Equal(bytes, fetched.Chunk!.Value.Bytes.ToArray());
        Assert.Equal(1, fetcher.Counters.BadAnswers);
        Assert.True(fetcher.IsAvoided(liar.Id));
        Assert.Equal(liar, fetcher.Candidates(id)[^1]);
        // Another chunk the liar would be asked first for: it is asked after every other peer now.
        var other = ChunkId.Of("other"u8);
        locations.Proposed(other, liar.Id);
        Assert.Equal(liar, fetcher.Candidates(other)[^1]);
    }

    [Fact]
    public async Task Nobody_holding_the_chunk_is_NotFound_and_nobody_answering_is_Unavailable()
    {
        var self = _peers[0];
        var id = ChunkId.Of("nowhere"u8);
        var fetcher = Fetcher(self, new ChunkLocations());

        Assert.Equal(ChunkFetchStatus.NotFound, (await fetcher.FetchAsync(id, CancellationToken.None)).Status);
        foreach (var p in _peers) _network.Cut(p.Id);
        Assert.Equal(ChunkFetchStatus.Unavailable, (await fetcher.FetchAsync(id, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task An_unreachable_proposer_is_skipped_for_a_placement_node()
    {
        var self = _peers[0];
        var bytes = Peers.RandomBytes(1000, 3);
        var id = ChunkId.Of(bytes);
        var placement = ChunkPlacement.For(id, _peers, 2).Where(p => p != self).ToArray();
        var proposer = _peers.First(p => p != self && !placement.Contains(p));
        StoreOf(placement[0]).Add(bytes);
        _network.Cut(proposer.Id);
        var locations = new ChunkLocations();
        locations.Proposed(id, proposer.Id);

        var fetched = await Fetcher(self, locations).FetchAsync(id, CancellationToken.None);

        Assert.True(fetched.Ok);
        Assert.Equal([proposer.Id, placement[0].Id], _network.AskedFor<GetChunk>());
    }
}
