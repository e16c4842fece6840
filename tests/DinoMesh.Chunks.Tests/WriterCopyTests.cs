using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Chunks.Tests;

/// <summary>
/// The writer's own copy is one of a new chunk's R copies (one push per chunk with R = 2): where the writer is not a
/// placement node, its copy must stand in for the placement node it left out — kept by the cache and by collection
/// until that node has pulled the chunk — and repair must bring every chunk back to R whichever of the copies is lost.
/// </summary>
public class WriterCopyTests
{
    /// <summary>No cache at all and no collection grace: whatever the sweeps may delete, they delete at once.</summary>
    private static readonly ChunkOptions Options = new()
    {
        Replicas = 2, CacheBytes = 0, GcGrace = TimeSpan.Zero, RepairBytesPerSecond = 0, ReplicationTimeout = TimeSpan.FromSeconds(2),
    };

    /// <summary>Chunks written on node0, each replicated as a commit would, and then referenced by the tree.</summary>
    private static async Task<List<ChunkId>> WriteAsync(MemoryCluster cluster, int count, int seed)
    {
        var writer = cluster.Nodes[0];
        var ids = new List<ChunkId>();
        for (var i = 0; i < count; i++)
        {
            var bytes = Peers.RandomBytes(1500, seed + i);
            var id = writer.Store.Add(bytes);
            writer.Service.OnStored(id, bytes);
            ids.Add(id);
        }
        Assert.True(await writer.Service.Replicator.ReplicateAsync(ids, CancellationToken.None));
        cluster.State = MemoryCluster.TreeReferencing(ids);
        cluster.LoadInventories();
        return ids;
    }

    private static bool WriterPlaced(MemoryCluster cluster, ChunkId id) =>
        ChunkPlacement.IsPlacedOn(id, cluster.Nodes[0].Peer.Id, cluster.Live.Members, 2);

    private static async Task RepairAsync(IEnumerable<MemoryNode> nodes)
    {
        foreach (var n in nodes)
        {
            n.Service.Repairer.Scan();
            await n.Service.Repairer.RepairQueuedAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_writers_copy_is_neither_evicted_nor_collected_until_the_placement_node_it_stood_in_for_has_pulled_the_chunk()
    {
        var cluster = new MemoryCluster(3, Options);
        var writer = cluster.Nodes[0];
        var ids = await WriteAsync(cluster, 60, 100);
        var standIns = ids.Where(id => !WriterPlaced(cluster, id)).ToList();
        Assert.NotEmpty(standIns);
        // Right after the commit each stand-in chunk is on two nodes: the writer and one placement node.
        Assert.All(standIns, id => Assert.Equal(2, cluster.Holders(id).Count()));

        writer.Service.Collector.Sweep();
        Assert.Equal(0, await writer.Service.Cache.EvictAsync(CancellationToken.None));
        Assert.All(standIns, id => Assert.True(writer.Store.Contains(id), "the writer's copy went while it was one of the two"));

        // The placement node left out pulls the chunk at its next scan, off the write path.
        await RepairAsync(cluster.Nodes.Skip(1));
        Assert.All(ids, id => Assert.All(ChunkPlacement.For(id, cluster.Live.Members, 2),
            p => Assert.True(cluster.Nodes.Single(n => n.Peer == p).Store.Contains(id), $"placement node {p} lacks {id}")));
        Assert.Equal(standIns.Count, cluster.Nodes.Skip(1).Sum(n => n.Service.Repairer.Counters.Chunks));

        // Now the writer's copy is only cache, and a cache bound of 0 lets it go; the chunk stays on its R placement nodes.
        Assert.Equal(standIns.Count * 1500L, await writer.Service.Cache.EvictAsync(CancellationToken.None));
        Assert.All(standIns, id => Assert.False(writer.Store.Contains(id)));
        Assert.All(ids, id => Assert.Equal(2, cluster.Holders(id).Count()));
    }

    [Fact]
    public async Task The_second_holder_lost_before_the_left_out_placement_node_pulled_leaves_the_writers_copy_and_repair_restores_R()
    {
        var cluster = new MemoryCluster(3, Options);
        var ids = await WriteAsync(cluster, 60, 200);
        var second = cluster.Nodes[1];
        var lost = ids.Where(id => second.Store.Contains(id) && !WriterPlaced(cluster, id)).ToList();
        Assert.NotEmpty(lost);
        cluster.Network.Cut(second.Peer.Id);
        cluster.Live.Remove(second.Peer.Id);
        var survivors = new[] { cluster.Nodes[0], cluster.Nodes[2] };
        // The writer's copy is the only one left of these.
        Assert.All(lost, id => Assert.Equal([cluster.Nodes[0]], survivors.Where(n => n.Store.Contains(id))));

        await RepairAsync(survivors);

        Assert.All(ids, id => Assert.Equal(2, survivors.Count(n => n.Store.Contains(id))));
    }

    [Fact]
    public async Task The_writer_lost_right_after_the_commit_leaves_one_copy_of_every_chunk_that_serves_it_and_repair_restores_R()
    {
        var cluster = new MemoryCluster(4, Options);
        var ids = await WriteAsync(cluster, 60, 300);
        var writer = cluster.Nodes[0];
        cluster.Network.Cut(writer.Peer.Id);
        cluster.Live.Remove(writer.Peer.Id);
        var survivors = cluster.Nodes.Skip(1).ToList();
        Assert.All(ids, id => Assert.Single(survivors, n => n.Store.Contains(id)));

        // A survivor without a copy reads each chunk from the one copy left.
        foreach (var id in ids)
        {
            var reader = survivors.First(n => !n.Store.Contains(id));
            var fetched = await reader.Service.Fetcher.FetchAsync(id, CancellationToken.None);
            Assert.NotNull(fetched.Chunk);
        }
        await RepairAsync(survivors);

        Assert.All(ids, id => Assert.True(survivors.Count(n => n.Store.Contains(id)) >= 2));
    }
}
