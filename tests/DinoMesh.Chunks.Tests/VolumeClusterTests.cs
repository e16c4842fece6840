using System.Security.Cryptography;
using System.Text;
using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;

namespace DinoMesh.Chunks.Tests;

/// <summary>
/// Whole nodes in one process — disk chunk stores, the volume's FUSE operations (no kernel), the chunk services on an
/// in-memory network — over one shared tree standing in for the lease holder and the replicated log. What this tier
/// proves: the data path across nodes (fetch, verify, replicate before acknowledging, repair, collect). What it does
/// not: the kernel, the transport (see <see cref="TransportChunkTests"/>), real processes dying (Node.Tests).
/// </summary>
public sealed class VolumeClusterTests : IAsyncDisposable
{
    private static readonly FuseContext Root = new(0, 0, 1, 1, CancellationToken.None);

    private readonly InMemoryChunkNetwork _network = new();
    private readonly LiveSet _live = new();
    private readonly List<VolumeNode> _nodes = [];
    private SharedTree? _tree;

    private List<VolumeNode> Cluster(int count, ChunkOptions? options = null, TimeProvider? time = null)
    {
        options ??= new ChunkOptions { Replicas = 2, RepairBytesPerSecond = 0 };
        var peers = Enumerable.Range(0, count).Select(i => Peers.Peer(((char)('a' + i)).ToString())).ToList();
        _tree = new SharedTree(peers[0].Id);
        foreach (var p in peers.Skip(1)) _tree.Admit(p.Id, p.Address);
        _live.Set(peers);
        foreach (var p in peers)
        {
            var node = new VolumeNode(p.Address[..1], _tree, _network, _live, options, time);
            _network.Add(node.Peer.Id, node.Service.Server);
            node.LoadInventory();
            _nodes.Add(node);
        }
        return _nodes;
    }

    private static byte[] Content(int megabytes, int seed) => Peers.RandomBytes(megabytes << 20, seed);

    private static string Sha(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    private List<ChunkId> ChunksOf(string name)
    {
        var (_, inode) = _tree!.State.Lookup(FileSystemState.RootIno, FileName.FromString(name));
        return [.. inode!.Extents.Where(e => e.Inline is null).Select(e => e.Chunk).Distinct()];
    }

    [Fact]
    public async Task A_file_written_on_A_reads_back_on_B_and_C_with_the_same_SHA256()
    {
        var (a, b, c) = Cluster(3) switch { var n => (n[0], n[1], n[2]) };
        var content = Content(24, 1);

        await a.WriteFileAsync("big", content);

        foreach (var reader in new[] { b, c })
        {
            var (errno, read) = await reader.ReadFileAsync("big");
            Assert.Equal(0, errno);
            Assert.Equal(Sha(content), Sha(read));
        }
        // B and C fetched only what they were not given as placement nodes.
        Assert.True(b.Service.Fetcher.Counters.Fetched + c.Service.Fetcher.Counters.Fetched > 0);
    }

    [Fact]
    public async Task Once_close_returns_every_new_chunk_sits_on_the_writer_and_the_first_other_member_of_its_ranking_and_repair_completes_its_placement()
    {
        var nodes = Cluster(4);
        await nodes[0].WriteFileAsync("f", Content(16, 2));

        foreach (var id in ChunksOf("f"))
        {
            var second = ChunkPlacement.Ranked(id, _live.Members).First(p => p != nodes[0].Peer);
            Assert.True(nodes[0].Store.Contains(id), $"the writer lacks chunk {id}");
            Assert.True(nodes.Single(n => n.Peer == second).Store.Contains(id), $"{second} lacks chunk {id}");
        }
        // One push per chunk: the writer's own copy is the other.
        Assert.Equal(ChunksOf("f").Count, nodes[0].Service.Replicator.Counters.Pushed);

        foreach (var n in nodes.Skip(1))
        {
            n.Service.Repairer.Scan();
            await n.Service.Repairer.RepairQueuedAsync(CancellationToken.None);
        }
        foreach (var id in ChunksOf("f"))
        {
            foreach (var p in ChunkPlacement.For(id, _live.Members, 2))
            {
                Assert.True(nodes.Single(n => n.Peer == p).Store.Contains(id), $"placement node {p} lacks chunk {id}");
            }
        }
    }

    [Fact]
    public async Task The_writer_lost_right_after_close_loses_nothing_it_acknowledged()
    {
        var (a, c) = Cluster(3) switch { var n => (n[0], n[2]) };
        var content = Content(12, 3);
        await a.WriteFileAsync("f", content);

        _network.Cut(a.Peer.Id);
        _live.Remove(a.Peer.Id);

        var (errno, read) = await c.ReadFileAsync("f");
        Assert.Equal(0, errno);
        Assert.Equal(Sha(content), Sha(read));
    }

    [Fact]
    public async Task Small_files_written_on_A_are_readable_on_C()
    {
        var (a, c) = Cluster(3) switch { var n => (n[0], n[2]) };
        var files = Enumerable.Range(0, 150).Select(i => ($"s{i}", Peers.RandomBytes(5000 + i * 37, 100 + i))).ToList();
        foreach (var (name, bytes) in files) await a.WriteFileAsync(name, bytes);

        foreach (var (name, bytes) in files)
        {
            var (errno, read) = await c.ReadFileAsync(name);
            Assert.Equal(0, errno);
            Assert.Equal(bytes, read);
        }
    }

    [Fact]
    public async Task Writers_on_disjoint_ranges_of_one_file_on_two_nodes_both_survive()
    {
        var (a, b, c) = Cluster(3) switch { var n => (n[0], n[1], n[2]) };
        var first = Content(3, 4);
        var second = Content(3, 5);
        var ino = await a.WriteFileAsync("shared", first);
        var opened = await b.Fs.OpenAsync(Root, ino, 0x2);
        // As the kernel's VFS does: the first open of a file changed elsewhere answers ESTALE (so the kernel looks the
        // name up again for the new size: DinoFileSystem.NeedsFreshSize), and the open is retried once.
        if (opened.Errno == 116) opened = await b.Fs.OpenAsync(Root, ino, 0x2);
        Assert.Equal(0, opened.Errno);
        Assert.Equal(0, (await b.Fs.WriteAsync(Root, ino, opened.Value.FileHandle, first.Length, second, 0)).Errno);
        Assert.Equal(0, await b.Fs.ReleaseAsync(Root, ino, opened.Value.FileHandle, 0));

        var (errno, read) = await c.ReadFileAsync("shared");
        Assert.Equal(0, errno);
        Assert.Equal(Sha([.. first, .. second]), Sha(read));
    }

    [Fact]
    public async Task A_corrupt_local_copy_found_by_a_read_is_replaced_from_a_peer_and_the_read_returns_the_right_bytes()
    {
        var nodes = Cluster(3);
        var content = Content(8, 6);
        await nodes[0].WriteFileAsync("f", content);
        // A node that holds a chunk it was pushed as a placement node (so not in its memory of recent fetches).
        var (holder, chunk) = nodes.Skip(1).SelectMany(n => ChunksOf("f").Where(n.Store.Contains).Select(id => (n, id))).First();
        var path = Path.Combine(holder.Path, "chunks", chunk.ToString()[..2], chunk.ToString());
        var bytes = File.ReadAllBytes(path);
        bytes[1000] ^= 0x55;
        File.WriteAllBytes(path, bytes);

        var (errno, read) = await holder.ReadFileAsync("f");

        Assert.Equal(0, errno);
        Assert.Equal(Sha(content), Sha(read));
        // The good copy is back on disk, and the bad one went to quarantine.
        Assert.Equal(chunk, ChunkId.Of(File.ReadAllBytes(path)));
        Assert.NotEmpty(Directory.EnumerateFiles(holder.Store.QuarantineDirectory));
    }

    [Fact]
    public async Task A_peer_that_serves_corrupt_bytes_is_caught_and_the_read_succeeds_from_another()
    {
        var (a, c) = Cluster(3) switch { var n => (n[0], n[2]) };
        var content = Content(8, 7);
        await a.WriteFileAsync("f", content);
        // A, the proposer, is asked first for every chunk C lacks: it answers with damaged bytes.
        _network.Tamper = (to, _, answer) => to == a.Peer.Id && answer is ChunkFound found
            ? new ChunkFound(found.Bytes.ToArray().Select((x, i) => i == 0 ? (byte)~x : x).ToArray())
            : null;

        var (errno, read) = await c.ReadFileAsync("f");

        Assert.Equal(0, errno);
        Assert.Equal(Sha(content), Sha(read));
        Assert.True(c.Service.Fetcher.Counters.BadAnswers > 0);
        Assert.True(c.Service.Fetcher.IsAvoided(a.Peer.Id));
    }

    [Fact]
    public async Task Deleting_files_gives_the_space_back_on_every_node_after_the_grace_period_but_an_open_file_keeps_its_chunks()
    {
        // The grace period runs on a clock the test moves: the collectors see an hour pass without the test waiting one.
        var grace = TimeSpan.FromHours(1);
        var time = new ManualTime();
        var nodes = Cluster(3, new ChunkOptions { Replicas = 2, GcGrace = grace, RepairBytesPerSecond = 0 }, time);
        var a = nodes[0];
        var goneIno = await a.WriteFileAsync("gone", Content(8, 8));
        var kept = Content(4, 9);
        var keptIno = await a.WriteFileAsync("kept", kept);
        foreach (var n in nodes.Skip(1)) Assert.Equal(0, (await n.ReadFileAsync("gone")).Errno);
        var goneChunks = ChunksOf("gone");
        var keptChunks = ChunksOf("kept");
        var handle = await a.Fs.OpenAsync(Root, keptIno, 0);
        Assert.Equal(0, handle.Errno);

        Assert.Equal(0, await a.UnlinkAsync("gone"));
        Assert.Equal(0, await a.UnlinkAsync("kept"));
        // B and C may hold "gone" open as far as A knows: each releases it in its next batch of releases, a linger of
        // real time later (the grace period runs on the test's clock, from the moment nothing references the chunks).
        // Every node, not only A, must have heard the release before the clock moves: a node that hears it later starts
        // its grace period later, and under load that used to be after the first move (waiting for the published state
        // was not enough: it is published before its listeners run).
        await WaitUntilAsync(() => !a.Tree.Heard.Orphans.ContainsKey(goneIno));
        time.Advance(grace - TimeSpan.FromMinutes(1));
        foreach (var n in nodes) n.Service.Collector.Sweep();
        Assert.All(goneChunks, id => Assert.Contains(nodes, n => n.Store.Contains(id)));   // not yet: the grace period runs
        time.Advance(TimeSpan.FromMinutes(2));
        foreach (var n in nodes) n.Service.Collector.Sweep();

        Assert.All(nodes, n => Assert.Empty(n.ChunksOnDisk().Intersect(goneChunks)));
        // Still open on A: its chunks stay, and reads through the handle see the bytes.
        Assert.All(keptChunks, id => Assert.Contains(nodes, n => n.Store.Contains(id)));
        var buffer = new byte[kept.Length];
        for (var at = 0; at < kept.Length; at += 1 << 20)
        {
            var read = await a.Fs.ReadAsync(Root, keptIno, handle.Value.FileHandle, at, buffer.AsMemory(at, 1 << 20));
            Assert.Equal(0, read.Errno);
        }
        Assert.Equal(Sha(kept), Sha(buffer));

        Assert.Equal(0, await a.Fs.ReleaseAsync(Root, keptIno, handle.Value.FileHandle, 0));
        await WaitUntilAsync(() => a.Tree.Heard.Orphans.IsEmpty);
        time.Advance(grace + TimeSpan.FromMinutes(1));
        foreach (var n in nodes) n.Service.Collector.Sweep();
        Assert.All(nodes, n => Assert.Empty(n.ChunksOnDisk()));
    }

    [Fact]
    public async Task A_node_lost_for_good_is_replaced_and_every_chunk_is_back_at_R_copies()
    {
        var nodes = Cluster(4);
        var content = Content(16, 10);
        await nodes[0].WriteFileAsync("f", content);
        var dead = nodes[3];
        _network.Cut(dead.Peer.Id);
        _live.Remove(dead.Peer.Id);
        var survivors = nodes.Take(3).ToList();

        foreach (var n in survivors)
        {
            n.Service.Repairer.Scan();
            await n.Service.Repairer.RepairQueuedAsync(CancellationToken.None);
        }

        foreach (var id in ChunksOf("f"))
        {
            var copies = survivors.Count(n => n.Store.Contains(id));
            Assert.True(copies >= 2, $"chunk {id} has {copies} live copies");
            Assert.All(ChunkPlacement.For(id, _live.Members, 2), p => Assert.True(survivors.Single(n => n.Peer == p).Store.Contains(id)));
        }
        Assert.All(survivors, n => Assert.Equal(0, n.Service.Status().Missing));
    }

    [Fact]
    public async Task Status_splits_held_chunks_into_placement_cached_and_unreferenced()
    {
        var nodes = Cluster(3);
        var content = Content(10, 11);
        await nodes[0].WriteFileAsync("f", content);
        var chunks = ChunksOf("f");

        // Where the writer is not a placement node, the placement node it left out lacks the chunk until its repair
        // scan pulls it: counted as missing there meanwhile.
        var standIns = chunks.Count(id => !ChunkPlacement.IsPlacedOn(id, nodes[0].Peer.Id, _live.Members, 2));
        Assert.Equal(standIns, nodes.Sum(n => n.Service.Status().Missing));
        foreach (var n in nodes.Skip(1))
        {
            n.Service.Repairer.Scan();
            await n.Service.Repairer.RepairQueuedAsync(CancellationToken.None);
        }
        await Task.Delay(1100); // the counts are memoised for a second
        var statuses = nodes.Select(n => n.Service.Status()).ToList();

        // Each chunk counts once per placement node, so the placement counts add up to R per chunk.
        Assert.Equal(chunks.Count * 2, statuses.Sum(s => s.PlacementChunks));
        // The writer holds every chunk: those placed elsewhere are its cache.
        Assert.Equal(chunks.Count, statuses[0].PlacementChunks + statuses[0].CachedChunks);
        Assert.All(statuses, s => Assert.Equal(0, s.Missing));
        Assert.Equal(2, statuses[0].Replicas);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var n in _nodes) await n.DisposeAsync();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, "not within 20 s");
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }
}
