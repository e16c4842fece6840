using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Chunks.Tests;

public class ChunkRepairTests
{
    private static readonly ChunkOptions Options = new() { Replicas = 2, RepairBytesPerSecond = 0 };

    /// <summary>Each chunk on exactly its placement nodes over all members.</summary>
    private static List<ChunkId> Place(MemoryCluster cluster, int count)
    {
        var ids = new List<ChunkId>();
        for (var i = 0; i < count; i++)
        {
            var bytes = Peers.RandomBytes(500, i);
            var id = ChunkId.Of(bytes);
            foreach (var p in ChunkPlacement.For(id, cluster.Live.Members, 2)) cluster.Nodes.Single(n => n.Peer == p).Store.Add(bytes);
            ids.Add(id);
        }
        cluster.State = MemoryCluster.TreeReferencing(ids);
        cluster.LoadInventories();
        return ids;
    }

    private static async Task RepairEverywhere(MemoryCluster cluster, IEnumerable<MemoryNode> nodes)
    {
        foreach (var n in nodes)
        {
            n.Service.Repairer.Scan();
            await n.Service.Repairer.RepairQueuedAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task When_a_member_dies_the_survivors_copy_its_chunks_back_to_R()
    {
        var cluster = new MemoryCluster(4, Options);
        var ids = Place(cluster, 200);
        var dead = cluster.Nodes[3];
        var held = ids.Where(dead.Store.Contains).ToList();
        Assert.NotEmpty(held);
        cluster.Network.Cut(dead.Peer.Id);
        cluster.Live.Remove(dead.Peer.Id);
        var survivors = cluster.Nodes.Take(3).ToList();

        // Before repair, the chunks the dead node held have one live copy each.
        Assert.All(held, id => Assert.Single(survivors, n => n.Store.Contains(id)));
        await RepairEverywhere(cluster, survivors);

        foreach (var id in ids)
        {
            var placement = ChunkPlacement.For(id, cluster.Live.Members, 2);
            Assert.All(placement, p => Assert.True(survivors.Single(n => n.Peer == p).Store.Contains(id)));
        }
        Assert.Equal(held.Count, survivors.Sum(n => n.Service.Repairer.Counters.Chunks));
        Assert.All(survivors, n => Assert.Equal(0, n.Service.Repairer.Queued));
    }

    [Fact]
    public async Task A_copy_found_corrupt_when_served_is_dropped_and_pulled_back_by_the_next_scan()
    {
        var cluster = new MemoryCluster(3, Options);
        var ids = Place(cluster, 50);
        var node = cluster.Nodes[1];
        var damaged = ids.First(node.Store.Contains);
        node.Store.Damage(damaged);

        // A peer asks for it: the damaged copy is not served, and this node notices it lost it.
        var answer = await cluster.Network.CallAsync(node.Peer, new GetChunk(damaged), TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.IsType<ChunkMissing>(answer.Answer);
        Assert.False(node.Service.Inventory.Contains(damaged));

        Assert.Equal(1, node.Service.Repairer.Scan());
        var repairedNow = await node.Service.Repairer.RepairQueuedAsync(CancellationToken.None);
        Assert.True(repairedNow == 1, $"repaired {repairedNow}; counters {node.Service.Repairer.Counters}; calls {string.Join(",", cluster.Network.Calls.Select(c => c.Request.GetType().Name + "->" + c.To))}");
        Assert.Equal(LocalRead.Ok, node.Store.Read(damaged).Status);
    }

    [Fact]
    public async Task Repair_with_nowhere_to_fetch_from_fails_softly_and_stays_missing()
    {
        var cluster = new MemoryCluster(2, Options);
        var ids = Place(cluster, 10);
        var node = cluster.Nodes[0];
        var lost = ids.First(node.Store.Contains);
        foreach (var n in cluster.Nodes) n.Store.Delete(lost);
        node.Service.Inventory.Lost(lost);

        Assert.Equal(1, node.Service.Repairer.Scan());
        Assert.Equal(0, await node.Service.Repairer.RepairQueuedAsync(CancellationToken.None));
        Assert.Equal(1, node.Service.Repairer.Counters.Failed);
        Assert.Equal(1, node.Service.Status().Missing);
    }
}
