using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Chunks.Tests;

public class ChunkReplicatorTests
{
    private static readonly ChunkOptions Options = new() { Replicas = 2, ReplicationTimeout = TimeSpan.FromSeconds(2) };

    /// <summary>The member a writer pushes a new chunk to with R = 2: the first of the chunk's ranking that is not the writer.</summary>
    private static ChunkPeer SecondHolder(ChunkId id, MemoryCluster cluster, ChunkPeer writer) =>
        ChunkPlacement.Ranked(id, cluster.Live.Members).First(p => p != writer);

    [Fact]
    public async Task With_R_2_a_chunk_is_pushed_once_to_the_first_ranked_member_that_is_not_the_writer()
    {
        // The writer's own copy is one of the R: one push per chunk, wherever rendezvous places it.
        var cluster = new MemoryCluster(4, Options);
        var writer = cluster.Nodes[0];
        var notPlaced = 0;
        for (var i = 0; i < 50; i++)
        {
            var bytes = Peers.RandomBytes(2000, i);
            var id = writer.Store.Add(bytes);
            writer.Service.Replicator.Offer(id, bytes);
            Assert.True(await writer.Service.Replicator.ReplicateAsync([id], CancellationToken.None));
            var second = SecondHolder(id, cluster, writer.Peer);
            Assert.Equal([writer.Peer, second], cluster.Holders(id).Select(n => n.Peer).OrderBy(p => p == writer.Peer ? 0 : 1));
            // The second holder is always a placement node: the first, or the second when the writer is the first.
            Assert.Contains(second, ChunkPlacement.For(id, cluster.Live.Members, 2));
            if (!ChunkPlacement.IsPlacedOn(id, writer.Peer.Id, cluster.Live.Members, 2)) notPlaced++;
        }
        Assert.Equal(50, cluster.Network.AskedFor<PutChunk>().Count());
        // Over 4 members the writer is a placement node of about half the chunks: both cases were exercised.
        Assert.InRange(notPlaced, 1, 49);
    }

    private static async Task PushesEndedAsync(ChunkReplicator replicator)
    {
        for (var i = 0; i < 1000 && replicator.InFlight > 0; i++) await Task.Delay(10);
        Assert.Equal(0, replicator.InFlight);
    }

    [Fact]
    public async Task A_chunk_whose_push_already_ended_is_not_pushed_again_when_its_commit_waits_for_it()
    {
        // A streaming write pushes each chunk when it is stored and commits it later; the commit must find the copies
        // on record instead of sending every megabyte a second time.
        var cluster = new MemoryCluster(4, Options);
        var writer = cluster.Nodes[0];
        var ids = new List<ChunkId>();
        for (var i = 0; i < 30; i++)
        {
            var bytes = Peers.RandomBytes(2000, 300 + i);
            var id = writer.Store.Add(bytes);
            writer.Service.Replicator.Offer(id, bytes);
            ids.Add(id);
        }
        await PushesEndedAsync(writer.Service.Replicator);
        var puts = cluster.Network.AskedFor<PutChunk>().Count();
        // One copy besides the writer's own, per chunk.
        Assert.Equal(ids.Count, puts);

        Assert.True(await writer.Service.Replicator.ReplicateAsync(ids, CancellationToken.None));

        Assert.Equal(puts, cluster.Network.AskedFor<PutChunk>().Count());
    }

    [Fact]
    public async Task A_copy_on_record_whose_holder_died_since_is_made_again_before_the_commit()
    {
        var cluster = new MemoryCluster(4, Options);
        var writer = cluster.Nodes[0];
        var bytes = Peers.RandomBytes(2500, 400);
        var id = writer.Store.Add(bytes);
        writer.Service.Replicator.Offer(id, bytes);
        await PushesEndedAsync(writer.Service.Replicator);
        var holder = SecondHolder(id, cluster, writer.Peer);
        Assert.True(cluster.Nodes.Single(n => n.Peer == holder).Store.Contains(id));

        cluster.Live.Remove(holder.Id);
        cluster.Network.Cut(holder.Id);
        Assert.True(await writer.Service.Replicator.ReplicateAsync([id], CancellationToken.None));

        // R copies among the members still live, the dead holder not counted: the writer's and the next in the ranking.
        var live = cluster.Live.Members;
        var others = cluster.Holders(id).Where(n => n.Peer != writer.Peer && live.Any(m => m.Id == n.Peer.Id)).Select(n => n.Peer).ToList();
        Assert.Equal([SecondHolder(id, cluster, writer.Peer)], others);
    }

    [Fact]
    public async Task A_placement_node_that_cannot_be_reached_is_replaced_by_the_next_in_rendezvous_order()
    {
        var cluster = new MemoryCluster(4, Options);
        var writer = cluster.Nodes[0];
        var bytes = Peers.RandomBytes(3000, 7);
        var id = writer.Store.Add(bytes);
        var ranked = ChunkPlacement.Ranked(id, cluster.Live.Members);
        var down = ranked.First(p => p != writer.Peer);
        cluster.Network.Cut(down.Id);

        Assert.True(await writer.Service.Replicator.ReplicateAsync([id], CancellationToken.None));

        // The writer's copy and the next member of the ranking after the unreachable one.
        var copies = cluster.Holders(id).Select(n => n.Peer).ToList();
        Assert.DoesNotContain(down, copies);
        Assert.Equal([ranked.Where(p => p != writer.Peer).ElementAt(1)], copies.Where(p => p != writer.Peer));
    }

    [Fact]
    public async Task A_push_to_a_placement_node_that_hangs_is_given_up_once_it_is_declared_dead_not_at_the_put_deadline()
    {
        // A hung machine keeps its connections up and answers nothing: the put would wait its whole deadline (here 60 s,
        // longer than the test waits), holding the close that needs the copy.
        var cluster = new MemoryCluster(4, Options with { TransferDeadline = TimeSpan.FromSeconds(60), ReplicationTimeout = TimeSpan.FromSeconds(120) });
        var writer = cluster.Nodes[0];
        var bytes = Peers.RandomBytes(3000, 600);
        var id = writer.Store.Add(bytes);
        var hung = SecondHolder(id, cluster, writer.Peer);
        cluster.Network.Hang(hung.Id);
        writer.Service.Replicator.Offer(id, bytes);
        await PutAskedOfAsync(cluster, hung.Id, 1);

        // SWIM declares it dead.
        cluster.Live.Remove(hung.Id);

        Assert.True(await writer.Service.Replicator.ReplicateAsync([id], CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal([SecondHolder(id, cluster, writer.Peer)], cluster.Holders(id).Select(n => n.Peer).Where(p => p != writer.Peer));
    }

    [Fact]
    public async Task A_push_that_waited_for_a_slot_is_not_sent_to_a_member_declared_dead_meanwhile()
    {
        // One push slot: the second chunk's push ranks its targets, then waits behind the first one's put to the hung
        // node. By the time it gets the slot that node is dead, and its ranking from before the wait is stale.
        var cluster = new MemoryCluster(4, Options with { TransferDeadline = TimeSpan.FromSeconds(60), ReplicationTimeout = TimeSpan.FromSeconds(120), MaxPushes = 1 });
        var writer = cluster.Nodes[0];
        var hung = cluster.Nodes[1].Peer;
        var chunks = Enumerable.Range(0, 200).Select(i => Peers.RandomBytes(1500, 700 + i))
            .Where(b => SecondHolder(ChunkId.Of(b), cluster, writer.Peer) == hung).Take(2).ToList();
        Assert.Equal(2, chunks.Count);
        cluster.Network.Hang(hung.Id);
        var ids = chunks.Select(b => writer.Store.Add(b)).ToList();
        writer.Service.Replicator.Offer(ids[0], chunks[0]);
        await PutAskedOfAsync(cluster, hung.Id, 1);
        writer.Service.Replicator.Offer(ids[1], chunks[1]);

        cluster.Live.Remove(hung.Id);

        Assert.True(await writer.Service.Replicator.ReplicateAsync(ids, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Single(cluster.Network.AskedFor<PutChunk>(), to => to == hung.Id);
    }

    private static async Task PutAskedOfAsync(MemoryCluster cluster, PeerId peer, int count)
    {
        for (var i = 0; i < 500 && cluster.Network.AskedFor<PutChunk>().Count(to => to == peer) < count; i++) await Task.Delay(10);
        Assert.Equal(count, cluster.Network.AskedFor<PutChunk>().Count(to => to == peer));
    }

    [Fact]
    public async Task A_commit_that_cannot_reach_R_copies_fails_with_EIO_and_commits_nothing()
    {
        var cluster = new MemoryCluster(3, Options with { ReplicationTimeout = TimeSpan.FromMilliseconds(300) });
        var writer = cluster.Nodes[0];
        foreach (var n in cluster.Nodes.Skip(1)) cluster.Network.Cut(n.Peer.Id);
        var tree = new SharedTree(writer.Peer.Id);
        var committer = new ReplicatingCommitter(tree.CommitterFor(writer.Peer.Id), writer.Service.Replicator);
        var bytes = Peers.RandomBytes(4000, 9);
        var id = writer.Store.Add(bytes);
        var create = await committer.CommitAsync(new Mutation { Kind = new CreateNode(1, FileName.FromString("f"), FileMode.Regular | 0x1A4, 0, 0, 0), TimeNs = 5 }, CancellationToken.None);
        Assert.True(create.Ok);
        var version = tree.State.Version;

        var write = await committer.CommitAsync(new Mutation { Kind = new WriteExtents(create.Effect.Ino, [new Extent(0, 4000, id, 0)]), TimeNs = 6 }, CancellationToken.None);

        Assert.Equal(FsError.Io, write.Error);
        Assert.Equal(version, tree.State.Version);
    }

    [Fact]
    public async Task A_chunk_already_in_the_tree_is_not_pushed_again()
    {
        var cluster = new MemoryCluster(3, Options);
        var writer = cluster.Nodes[0];
        var bytes = Peers.RandomBytes(4000, 11);
        var id = writer.Store.Add(bytes);
        var state = MemoryCluster.TreeReferencing([id]);
        var write = new WriteExtents(2, [new Extent(8192, 4000, id, 0), new Extent(16384, 100, default, 0, new byte[100])]);

        Assert.Empty(ReplicatingCommitter.Introduced(write, state));
        Assert.Equal([id], ReplicatingCommitter.Introduced(write, FileSystemState.Genesis(1)));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Fsync_asks_every_peer_that_took_chunks_to_sync_them()
    {
        var cluster = new MemoryCluster(4, Options);
        var writer = cluster.Nodes[0];
        var receivers = new HashSet<PeerId>();
        for (var i = 0; i < 20; i++)
        {
            var id = writer.Store.Add(Peers.RandomBytes(1000, 100 + i));
            Assert.True(await writer.Service.Replicator.ReplicateAsync([id], CancellationToken.None));
            receivers.Add(SecondHolder(id, cluster, writer.Peer).Id);
        }

        Assert.True(await writer.Service.Replicator.SyncPeersAsync(CancellationToken.None));

        Assert.Equal(receivers.Order(), cluster.Network.AskedFor<SyncChunks>().Order());
        Assert.All(cluster.Nodes.Where(n => receivers.Contains(n.Peer.Id)), n => Assert.Equal(1, n.Store.SyncCount));
        // Nothing pushed since: the next fsync asks nobody.
        Assert.True(await writer.Service.Replicator.SyncPeersAsync(CancellationToken.None));
        Assert.Equal(receivers.Count, cluster.Network.AskedFor<SyncChunks>().Count());
    }

    [Fact]
    public async Task Fsync_asks_the_peers_to_sync_while_the_local_tier_is_still_syncing()
    {
        // Each tier is a device flush somewhere; one after the other, fsync waited for the sum of them.
        var cluster = new MemoryCluster(4, Options);
        var writer = cluster.Nodes[0];
        var id = writer.Store.Add(Peers.RandomBytes(1000, 500));
        Assert.True(await writer.Service.Replicator.ReplicateAsync([id], CancellationToken.None));
        var local = new SyncingCommitter(async () =>
        {
            for (var i = 0; i < 500 && !cluster.Network.AskedFor<SyncChunks>().Any(); i++) await Task.Delay(10);
            return cluster.Network.AskedFor<SyncChunks>().Any() ? FsError.None : FsError.TimedOut;
        });

        var result = await new ReplicatingCommitter(local, writer.Service.Replicator).SyncAsync(CancellationToken.None);

        Assert.Equal(FsError.None, result);
        Assert.NotEmpty(cluster.Network.AskedFor<SyncChunks>());
    }

    [Fact]
    public async Task Fsync_fails_when_either_the_local_tier_or_a_peer_fails_to_sync()
    {
        var cluster = new MemoryCluster(4, Options);
        var writer = cluster.Nodes[0];
        var id = writer.Store.Add(Peers.RandomBytes(1000, 501));
        Assert.True(await writer.Service.Replicator.ReplicateAsync([id], CancellationToken.None));
        var failing = new SyncingCommitter(() => Task.FromResult(FsError.NoSpace));

        Assert.Equal(FsError.NoSpace, await new ReplicatingCommitter(failing, writer.Service.Replicator).SyncAsync(CancellationToken.None));

        // The peers were asked meanwhile all the same; a peer whose sync fails fails the next fsync (it stays on record).
        var receiver = cluster.Nodes.Single(n => n.Peer == SecondHolder(id, cluster, writer.Peer));
        Assert.Equal(1, receiver.Store.SyncCount);
        var id2 = writer.Store.Add(Peers.RandomBytes(1000, 502));
        Assert.True(await writer.Service.Replicator.ReplicateAsync([id2], CancellationToken.None));
        foreach (var n in cluster.Nodes.Where(n => n != writer)) n.Store.FailSync = true;
        var fine = new SyncingCommitter(() => Task.FromResult(FsError.None));
        Assert.Equal(FsError.Io, await new ReplicatingCommitter(fine, writer.Service.Replicator).SyncAsync(CancellationToken.None));
    }

    /// <summary>A local tier whose sync is the given function (nothing to commit).</summary>
    private sealed class SyncingCommitter(Func<Task<FsError>> sync) : IMetadataCommitter
    {
        public FileSystemState Current => FileSystemState.Genesis(1);

        public PeerId Self => Peers.Id("node0");

        public event Action<ApplyResult>? AppliedRemotely
        {
            add { }
            remove { }
        }

        public ValueTask<ApplyResult> CommitAsync(Mutation mutation, CancellationToken cancellationToken) => throw new NotSupportedException();

        public async ValueTask<FsError> SyncAsync(CancellationToken cancellationToken) => await sync();
    }

    [Fact]
    public async Task A_peer_refuses_to_keep_bytes_that_do_not_hash_to_the_id()
    {
        var cluster = new MemoryCluster(2, Options);
        var target = cluster.Nodes[1];
        var id = ChunkId.Of("real"u8);

        var call = await cluster.Network.CallAsync(target.Peer, new PutChunk(id, "fake"u8.ToArray()), TimeSpan.FromSeconds(1), CancellationToken.None);

        Assert.Equal(PutOutcome.Corrupt, Assert.IsType<PutAnswer>(call.Answer).Outcome);
        Assert.False(target.Store.Contains(id));
    }
}
