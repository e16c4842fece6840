using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Chunks.Tests;

public class ChunkCacheTests
{
    [Fact]
    public async Task Over_its_bound_the_cache_evicts_least_recently_used_chunks_their_placement_nodes_hold_and_nothing_else()
    {
        var time = new ManualTime();
        var cluster = new MemoryCluster(3, new ChunkOptions { Replicas = 1, CacheBytes = 5 * 1000 }, time);
        var node = cluster.Nodes[0];
        var chunks = Enumerable.Range(0, 40).Select(i => Peers.RandomBytes(1000, i)).ToList();
        var ids = chunks.Select(node.Store.Add).ToList();
        cluster.State = MemoryCluster.TreeReferencing(ids);
        var cached = new List<ChunkId>();
        var placedHere = new List<ChunkId>();
        var unconfirmed = new List<ChunkId>();
        for (var i = 0; i < ids.Count; i++)
        {
            var owner = ChunkPlacement.For(ids[i], cluster.Live.Members, 1)[0];
            if (owner == node.Peer)
            {
                placedHere.Add(ids[i]);
                continue;
            }
            // Every fourth cached chunk is missing at its placement node: it must stay.
            if (cached.Count % 4 == 3) unconfirmed.Add(ids[i]);
            else cluster.Nodes.Single(n => n.Peer == owner).Store.Add(chunks[i]);
            cached.Add(ids[i]);
        }
        cluster.LoadInventories();
        // Read order: the cached chunks in list order, one second apart (the first is the least recently used).
        foreach (var id in cached)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            node.Service.Inventory.Used(id);
        }

        var freed = await node.Service.Cache.EvictAsync(CancellationToken.None);

        var confirmed = cached.Except(unconfirmed).ToList();
        var excess = cached.Count * 1000 - 5000;
        Assert.Equal(Math.Min(excess, confirmed.Count * 1000), freed);
        var evicted = confirmed.Where(id => !node.Store.Contains(id)).ToList();
        // The least recently used confirmed ones, in order.
        Assert.Equal(confirmed.Take(evicted.Count), evicted);
        Assert.All(placedHere, id => Assert.True(node.Store.Contains(id), "a chunk this node holds for placement was evicted"));
        Assert.All(unconfirmed, id => Assert.True(node.Store.Contains(id), "a chunk its placement node lacks was evicted"));
    }

    [Fact]
    public async Task Within_its_bound_the_cache_evicts_nothing()
    {
        var cluster = new MemoryCluster(3, new ChunkOptions { Replicas = 1, CacheBytes = 1 << 20 });
        var node = cluster.Nodes[0];
        var ids = Enumerable.Range(0, 30).Select(i => node.Store.Add(Peers.RandomBytes(1000, i))).ToList();
        cluster.State = MemoryCluster.TreeReferencing(ids);
        cluster.LoadInventories();

        Assert.Equal(0, await node.Service.Cache.EvictAsync(CancellationToken.None));
        Assert.Equal(30, node.Store.Count);
    }
}
