using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Chunks.Tests;

/// <summary>
/// The cache gives chunks back when the chunk disk is short of space, whatever its bound: at once for a write that
/// found the disk full (<see cref="ChunkCache.MakeRoomAsync"/>), and in the sweep while the disk is under its free-space
/// reserve. Always by the cache's rule: least recently used first, only chunks every placement node confirms it holds,
/// never one placed here.
/// </summary>
public sealed class CacheSpaceTests
{
    private const int ChunkBytes = 1000;

    /// <summary>
    /// 40 chunks of 1,000 B on node 0 of three (R = 1), every one referenced: those placed on node 0 are its duty; of
    /// the rest (cached) every fourth is missing at its placement node. Cached chunks were read one second apart in
    /// list order. The cache bound is far above what is held, so only space can make the cache give anything up.
    /// </summary>
    private sealed record Setup(MemoryCluster Cluster, MemoryNode Node, List<ChunkId> Cached, List<ChunkId> PlacedHere, List<ChunkId> Unconfirmed)
    {
        public List<ChunkId> Confirmed => [.. Cached.Except(Unconfirmed)];

        public ChunkCache Cache => Node.Service.Cache;
    }

    private static Setup Build(long? reserve, bool confirmNone = false)
    {
        var time = new ManualTime();
        var cluster = new MemoryCluster(3, new ChunkOptions { Replicas = 1, CacheBytes = 1L << 30, FreeSpaceReserve = reserve, RepairBytesPerSecond = 0 }, time);
        var node = cluster.Nodes[0];
        var chunks = Enumerable.Range(0, 40).Select(i => Peers.RandomBytes(ChunkBytes, i)).ToList();
        var ids = chunks.Select(node.Store.Add).ToList();
        cluster.State = MemoryCluster.TreeReferencing(ids);
        var (cached, placedHere, unconfirmed) = (new List<ChunkId>(), new List<ChunkId>(), new List<ChunkId>());
        for (var i = 0; i < ids.Count; i++)
        {
            var owner = ChunkPlacement.For(ids[i], cluster.Live.Members, 1)[0];
            if (owner == node.Peer)
            {
                placedHere.Add(ids[i]);
                continue;
            }
            if (confirmNone || cached.Count % 4 == 3) unconfirmed.Add(ids[i]);
            else cluster.Nodes.Single(n => n.Peer == owner).Store.Add(chunks[i]);
            cached.Add(ids[i]);
        }
        cluster.LoadInventories();
        foreach (var id in cached)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            node.Service.Inventory.Used(id);
        }
        // The disk is exactly full.
        node.Store.DiskBytes = ids.Count * ChunkBytes;
        return new Setup(cluster, node, cached, placedHere, unconfirmed);
    }

    private static void AssertOnlyTheOldestConfirmedWentFirst(Setup s, int evicted)
    {
        var gone = s.Confirmed.Where(id => !s.Node.Store.Contains(id)).ToList();
        Assert.Equal(s.Confirmed.Take(evicted), gone);
        Assert.All(s.PlacedHere, id => Assert.True(s.Node.Store.Contains(id), "a chunk this node holds for placement was evicted"));
        Assert.All(s.Unconfirmed, id => Assert.True(s.Node.Store.Contains(id), "a chunk its placement node lacks was evicted"));
    }

    [Fact]
    public async Task A_write_that_finds_the_disk_full_makes_the_cache_give_up_its_least_recently_used_confirmed_chunks_at_once()
    {
        var s = Build(reserve: 0);

        Assert.True(await s.Cache.MakeRoomAsync(2_500, TestContext.Current.CancellationToken));

        // Whole chunks until 2,500 B are free: three.
        AssertOnlyTheOldestConfirmedWentFirst(s, 3);
        Assert.Equal((3L, 3L * ChunkBytes), s.Cache.EvictedForSpace);
        Assert.Equal((3L, 3L * ChunkBytes), s.Cache.Evicted);
        Assert.Equal(3 * ChunkBytes, s.Node.Store.Capacity()!.Value.Free);
    }

    [Fact]
    public async Task Room_made_for_a_write_reaches_the_free_space_reserve_so_the_next_writes_do_not_find_the_disk_full()
    {
        var s = Build(reserve: 6 * ChunkBytes);

        Assert.True(await s.Cache.MakeRoomAsync(ChunkBytes, TestContext.Current.CancellationToken));

        AssertOnlyTheOldestConfirmedWentFirst(s, 6);
        Assert.Equal(6 * ChunkBytes, s.Node.Store.Capacity()!.Value.Free);
    }

    /// <summary>
    /// A chunk placed on node 0 that only another node holds (a writer's copy, or a member that left): node 0's repair
    /// pulls it onto a disk full of cache. The pull asks the cache for room like a user's write does, and is stored.
    /// </summary>
    private static ChunkId OwedByNode0(Setup s, int seed)
    {
        var others = s.Cluster.Nodes.Where(n => n != s.Node).ToList();
        for (var i = seed; ; i++)
        {
            var bytes = Peers.RandomBytes(ChunkBytes, 1000 + i);
            var id = ChunkId.Of(bytes);
            if (ChunkPlacement.For(id, s.Cluster.Live.Members, 1)[0] != s.Node.Peer) continue;
            others[0].Store.Add(bytes);
            return id;
        }
    }

    [Fact]
    public async Task A_repair_pull_onto_a_disk_full_of_cache_makes_the_cache_give_up_its_least_recently_used_chunk_and_is_stored()
    {
        var s = Build(reserve: 0);
        var owed = OwedByNode0(s, 0);
        s.Cluster.State = MemoryCluster.TreeReferencing([.. s.Cached, .. s.PlacedHere, owed]);
        s.Node.Store.RefuseWhenFull = true;

        Assert.Equal(1, s.Node.Service.Repairer.Scan());
        Assert.Equal(1, await s.Node.Service.Repairer.RepairQueuedAsync(TestContext.Current.CancellationToken));

        Assert.True(s.Node.Store.Contains(owed), "the chunk repair pulled was not stored");
        Assert.Equal(1, s.Node.Store.Refused);
        AssertOnlyTheOldestConfirmedWentFirst(s, 1);
        Assert.Equal((1L, 0L, 0L), (s.Node.Service.Repairer.Counters.Chunks, s.Node.Service.Repairer.Counters.Failed, (long)s.Node.Service.Repairer.Queued));
    }

    [Fact]
    public async Task A_repair_pull_onto_a_disk_full_of_chunks_placed_here_fails_as_before_and_stays_for_the_next_scan()
    {
        var s = Build(reserve: 0, confirmNone: true);
        var owed = OwedByNode0(s, 0);
        s.Cluster.State = MemoryCluster.TreeReferencing([.. s.Cached, .. s.PlacedHere, owed]);
        s.Node.Store.RefuseWhenFull = true;
        var held = s.Node.Store.Count;

        s.Node.Service.Repairer.Scan();
        Assert.Equal(0, await s.Node.Service.Repairer.RepairQueuedAsync(TestContext.Current.CancellationToken));

        Assert.False(s.Node.Store.Contains(owed));
        Assert.Equal(held, s.Node.Store.Count);
        Assert.Equal(1L, s.Node.Service.Repairer.Counters.Failed);
        // Found missing again by the next scan.
        Assert.Equal(1, s.Node.Service.Repairer.Scan());
    }

    [Fact]
    public async Task With_nothing_it_may_give_up_the_cache_says_no_and_deletes_nothing()
    {
        var s = Build(reserve: 0, confirmNone: true);
        var held = s.Node.Store.Count;

        Assert.False(await s.Cache.MakeRoomAsync(2_500, TestContext.Current.CancellationToken));

        Assert.Equal(held, s.Node.Store.Count);
        Assert.Equal((0L, 0L), s.Cache.EvictedForSpace);
    }

    [Fact]
    public async Task Under_its_free_space_reserve_the_sweep_evicts_cached_chunks_until_the_reserve_is_free_again()
    {
        var s = Build(reserve: 4 * ChunkBytes);

        var freed = await s.Cache.EvictAsync(TestContext.Current.CancellationToken);

        Assert.Equal(4 * ChunkBytes, freed);
        AssertOnlyTheOldestConfirmedWentFirst(s, 4);
        Assert.Equal((4L, 4L * ChunkBytes), s.Cache.EvictedForSpace);
        // Back at the reserve: the next sweep gives nothing more up.
        Assert.Equal(0, await s.Cache.EvictAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Without_a_reserve_a_full_disk_under_the_cache_bound_keeps_every_chunk_in_the_sweep()
    {
        var s = Build(reserve: 0);
        var held = s.Node.Store.Count;

        Assert.Equal(0, await s.Cache.EvictAsync(TestContext.Current.CancellationToken));

        Assert.Equal(held, s.Node.Store.Count);
    }

    [Fact]
    public async Task The_evictable_count_is_the_bytes_of_cached_chunks_every_placement_node_confirms_and_drops_by_what_is_evicted()
    {
        var s = Build(reserve: 0);
        var ct = TestContext.Current.CancellationToken;
        Assert.Equal(0, s.Cache.Evictable);

        Assert.Equal(s.Confirmed.Count * ChunkBytes, await s.Cache.CountEvictableAsync(ct));
        Assert.Equal(s.Confirmed.Count * ChunkBytes, s.Cache.Evictable);

        // Evicted for a write: on the disk's free space now, no longer in the count (statfs would count it twice).
        Assert.True(await s.Cache.MakeRoomAsync(2_500, ct));
        Assert.Equal((s.Confirmed.Count - 3) * ChunkBytes, s.Cache.Evictable);
        Assert.Equal((s.Confirmed.Count - 3) * ChunkBytes, await s.Cache.CountEvictableAsync(ct));
    }

    [Fact]
    public async Task The_sweep_evicts_under_its_reserve_then_counts_what_is_left_from_the_same_walk()
    {
        var s = Build(reserve: 4 * ChunkBytes);

        var (freed, evictable) = await s.Cache.SweepAsync(TestContext.Current.CancellationToken);

        Assert.Equal(4 * ChunkBytes, freed);
        AssertOnlyTheOldestConfirmedWentFirst(s, 4);
        Assert.Equal((s.Confirmed.Count - 4) * ChunkBytes, evictable);
        Assert.Equal(evictable, s.Cache.Evictable);
    }

    [Fact]
    public async Task A_cache_none_of_whose_chunks_its_placement_nodes_confirm_counts_nothing_evictable()
    {
        var s = Build(reserve: 0, confirmNone: true);

        Assert.Equal(0, await s.Cache.CountEvictableAsync(TestContext.Current.CancellationToken));
        Assert.Equal(0, s.Cache.Evictable);
    }

    [Fact]
    public async Task A_chunk_its_placement_node_gains_later_is_counted_at_the_next_count()
    {
        var s = Build(reserve: 0);
        var ct = TestContext.Current.CancellationToken;
        await s.Cache.CountEvictableAsync(ct);
        // The placement node of one unconfirmed chunk pulls it (repair): the next count asks again and finds it.
        var pulled = s.Unconfirmed[0];
        var owner = ChunkPlacement.For(pulled, s.Cluster.Live.Members, 1)[0];
        s.Cluster.Nodes.Single(n => n.Peer == owner).Store.Add(s.Node.Store.Read(pulled).Bytes!);

        Assert.Equal((s.Confirmed.Count + 1) * ChunkBytes, await s.Cache.CountEvictableAsync(ct));
    }

    /// <summary>
    /// A chunk a writer pushes to node 0 (its placement node, or the next in its ranking) onto a disk full of cache: the
    /// put asks the cache for room as node 0's own writers do, and is stored; it answered NoSpace before, and the writer
    /// pushed to the next member instead.
    /// </summary>
    [Fact]
    public async Task A_chunk_pushed_onto_a_disk_full_of_cache_makes_the_cache_give_up_its_least_recently_used_chunk_and_is_stored()
    {
        var s = Build(reserve: 0);
        s.Node.Store.RefuseWhenFull = true;
        var bytes = Peers.RandomBytes(ChunkBytes, 5_000);
        var id = ChunkId.Of(bytes);

        var answer = await s.Node.Service.Server.HandleAsync(s.Cluster.Nodes[1].Peer.Id, new PutChunk(id, bytes), TestContext.Current.CancellationToken);

        Assert.Equal(PutOutcome.Stored, Assert.IsType<PutAnswer>(answer).Outcome);
        Assert.True(s.Node.Store.Contains(id), "the pushed chunk was not stored");
        Assert.Equal(1, s.Node.Store.Refused);
        AssertOnlyTheOldestConfirmedWentFirst(s, 1);
    }

    [Fact]
    public async Task A_chunk_pushed_onto_a_disk_full_of_chunks_placed_here_is_answered_NoSpace_and_nothing_is_deleted()
    {
        var s = Build(reserve: 0, confirmNone: true);
        s.Node.Store.RefuseWhenFull = true;
        var held = s.Node.Store.Count;
        var bytes = Peers.RandomBytes(ChunkBytes, 5_000);

        var answer = await s.Node.Service.Server.HandleAsync(s.Cluster.Nodes[1].Peer.Id, new PutChunk(ChunkId.Of(bytes), bytes), TestContext.Current.CancellationToken);

        Assert.Equal(PutOutcome.NoSpace, Assert.IsType<PutAnswer>(answer).Outcome);
        Assert.Equal(held, s.Node.Store.Count);
        Assert.False(s.Node.Service.Inventory.Contains(ChunkId.Of(bytes)));
    }
}
