using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Node;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Volume;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests;

public class ChunkCollectorTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromHours(1);

    [Fact]
    public void Only_unreferenced_unstaged_chunks_out_of_use_for_the_grace_period_are_deleted()
    {
        var time = new ManualTime();
        var store = new InMemoryChunks();
        var referenced = store.Add([1]);
        var old = store.Add([2]);
        var young = store.Add([3]);
        var staged = store.Add([4]);
        var freedLate = store.Add([5]);
        var inventory = new ChunkInventory(time);
        inventory.Load(store.Inventory());
        var state = MemoryCluster.TreeReferencing([referenced]);
        var collector = new ChunkCollector(inventory, store, () => state, () => new HashSet<ChunkId> { staged }, new ChunkOptions { GcGrace = Grace }, NullLogger.Instance);

        Assert.Equal(0, collector.Sweep().Chunks);   // nothing is out of use for an hour yet
        time.Advance(TimeSpan.FromMinutes(50));
        inventory.Storing(young, 1);                // a writer deduplicated against it
        collector.Freed([freedLate]);               // a commit dropped its last reference just now
        time.Advance(TimeSpan.FromMinutes(20));

        Assert.Equal(1, collector.Sweep().Chunks);
        Assert.False(store.Contains(old));
        Assert.All(new[] { referenced, young, staged, freedLate }, id => Assert.True(store.Contains(id)));

        time.Advance(TimeSpan.FromHours(2));
        collector.Sweep();
        Assert.True(store.Contains(referenced), "a referenced chunk is never deleted");
        Assert.True(store.Contains(staged), "a staged chunk is never deleted");
        Assert.False(store.Contains(young));
        Assert.False(store.Contains(freedLate));
        Assert.Equal((3L, 3L), collector.Collected);
    }

    /// <summary>
    /// The extra copies of a file being written arrive here long before the commit that references them: a file that
    /// takes longer than the grace period to write must not lose its first chunks' copies while it is still being
    /// written (kill the writer after its commit, and only these copies are left).
    /// </summary>
    [Fact]
    public void A_copy_pushed_by_a_writer_is_kept_while_that_writer_keeps_pushing_and_then_for_the_grace()
    {
        var time = new ManualTime();
        var store = new InMemoryChunks();
        var first = store.Add([1]);
        var later = store.Add([2]);
        var quietWriters = store.Add([3]);
        var inventory = new ChunkInventory(time);
        inventory.Load(store.Inventory());
        var state = FileSystemState.Genesis(1);
        var collector = new ChunkCollector(inventory, store, () => state, () => new HashSet<ChunkId>(), new ChunkOptions { GcGrace = Grace }, NullLogger.Instance);
        var writer = Peers.Id("writer");

        inventory.Pushed(first, 1, writer);
        inventory.Pushed(quietWriters, 1, Peers.Id("quiet"));
        time.Advance(TimeSpan.FromMinutes(50));
        inventory.Pushed(later, 1, writer);
        time.Advance(TimeSpan.FromMinutes(20));

        Assert.Equal(1, collector.Sweep().Chunks);
        Assert.True(store.Contains(first), "the writer pushed 20 minutes ago: its first copy is still needed");
        Assert.False(store.Contains(quietWriters), "a copy whose writer has pushed nothing for longer than the grace is garbage");

        time.Advance(TimeSpan.FromMinutes(41));
        Assert.Equal(2, collector.Sweep().Chunks);
        Assert.False(store.Contains(first));
        Assert.False(store.Contains(later));
    }

    [Fact]
    public void A_pushed_copy_committed_and_let_go_is_kept_only_for_the_grace_however_busy_its_writer()
    {
        var time = new ManualTime();
        var store = new InMemoryChunks();
        var overwritten = store.Add([4]);
        var inventory = new ChunkInventory(time);
        inventory.Load(store.Inventory());
        var state = FileSystemState.Genesis(1);
        var collector = new ChunkCollector(inventory, store, () => state, () => new HashSet<ChunkId>(), new ChunkOptions { GcGrace = Grace }, NullLogger.Instance);
        var writer = Peers.Id("busy");

        inventory.Pushed(overwritten, 1, writer);
        collector.Freed([overwritten]);             // committed, then overwritten: the tree let go of it
        for (var minute = 0; minute < 70; minute += 10)
        {
            time.Advance(TimeSpan.FromMinutes(10));
            inventory.Pushed(store.Add([(byte)(10 + minute)]), 1, writer);
        }

        collector.Sweep();
        Assert.False(store.Contains(overwritten));
    }

    [Fact]
    public void A_chunk_referenced_again_before_its_grace_ends_is_kept()
    {
        var time = new ManualTime();
        var store = new InMemoryChunks();
        var id = store.Add([9, 9]);
        var inventory = new ChunkInventory(time);
        inventory.Load(store.Inventory());
        var state = FileSystemState.Genesis(1);
        var collector = new ChunkCollector(inventory, store, () => state, () => new HashSet<ChunkId>(), new ChunkOptions { GcGrace = Grace }, NullLogger.Instance);

        time.Advance(TimeSpan.FromMinutes(59));
        state = MemoryCluster.TreeReferencing([id]);
        time.Advance(TimeSpan.FromHours(5));

        Assert.Equal(0, collector.Sweep().Chunks);
        Assert.True(store.Contains(id));
    }

    /// <summary>
    /// The race the deletion protocol exists for: a writer deduplicates against a chunk (Put finds it present) at the
    /// moment collection deletes it. After every store the chunk must be on disk and marked in use, whatever the
    /// interleaving: here collection sweeps without pause while the clock makes every chunk eligible each round.
    /// </summary>
    [Fact]
    public async Task A_write_that_deduplicates_against_a_chunk_being_collected_still_finds_it_on_disk()
    {
        var dir = Directory.CreateTempSubdirectory("dinomesh-chunks-gcrace-");
        try
        {
            using var data = DataDirectory.Open(dir.FullName);
            var store = new ChunkStore(data);
            var time = new ManualTime();
            var inventory = new ChunkInventory(time);
            inventory.Load([]);
            var access = new ChunkAccess(store, NullLogger.Instance);
            access.Stored += (id, bytes, _) => inventory.Storing(id, bytes.Length);
            var state = FileSystemState.Genesis(1);
            var collector = new ChunkCollector(inventory, new StoreChunks(store), () => state, () => new HashSet<ChunkId>(), new ChunkOptions { GcGrace = Grace }, NullLogger.Instance);
            var contents = Enumerable.Range(0, 4).Select(i => Peers.RandomBytes(8192, i)).ToArray();
            using var done = new CancellationTokenSource();
            long deleted = 0;
            var sweeper = Task.Run(() =>
            {
                while (!done.IsCancellationRequested) Interlocked.Add(ref deleted, collector.Sweep().Chunks);
            });

            // Rounds until collection has deleted enough under the writer to have raced it often (bounded in rounds
            // and time: on a loaded machine the sweeper may get few turns).
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var round = 0;
            for (; round < 200_000 && Interlocked.Read(ref deleted) < 500 && clock.Elapsed < TimeSpan.FromSeconds(60); round++)
            {
                time.Advance(Grace * 2);
                var content = contents[round % contents.Length];
                var (error, id) = access.Store(content);
                Assert.Equal(FsError.None, error);
                Assert.True(store.Contains(id), $"round {round}: the chunk just stored is gone");
                Assert.True(time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000L - inventory.Find(id)!.InUseNs < 1_000_000_000L, "not marked in use");
            }
            await done.CancelAsync();
            await sweeper;
            Assert.True(Interlocked.Read(ref deleted) >= 20, $"collection deleted only {deleted} chunks in {round} rounds: the race was hardly exercised");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
