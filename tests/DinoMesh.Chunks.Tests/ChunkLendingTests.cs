using System.Runtime.InteropServices;
using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests;

/// <summary>
/// A writer's sealed block lent to the push that replicates it (no copy of the megabyte): the array stays out of the
/// pool while a push still reads it, and what the peer gets is exactly the put of the chunk.
/// </summary>
public class ChunkLendingTests
{
    private const int Room = 64;

    /// <summary>A network whose puts wait for a gate, then read the message as the transport would send it.</summary>
    private sealed class GatedNetwork : IChunkNetwork
    {
        public readonly TaskCompletionSource Gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource Called = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public byte[]? Sent;
        public byte[]? SentFrom;

        public async Task<ChunkCall> CallAsync(ChunkPeer peer, ChunkRequest request, TimeSpan deadline, CancellationToken cancellationToken)
        {
            var put = Assert.IsType<PutChunk>(request);
            Called.TrySetResult();
            await Gate.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            // What TransportChunkNetwork sends: the stretch in place when the envelope lies in front, else an encoding.
            if (ChunkCodec.TryEncoded(put, out var message))
            {
                SentFrom = MemoryMarshal.TryGetArray(message, out var segment) ? segment.Array : null;
                Sent = message.ToArray();
            }
            else
            {
                Sent = ChunkCodec.Encode(put);
            }
            return new ChunkCall(new PutAnswer(PutOutcome.Stored));
        }
    }

    private static (ChunkReplicator Replicator, GatedNetwork Network) Writer()
    {
        var live = new LiveSet();
        var writer = Peers.Peer("writer");
        live.Set([writer, Peers.Peer("other")]);
        var network = new GatedNetwork();
        var options = new ChunkOptions { Replicas = 2, ReplicationTimeout = TimeSpan.FromSeconds(10) };
        return (new ChunkReplicator(network, new FixedCluster(writer.Id, live), new InMemoryChunks(), new ChunkLocations(), options, NullLogger.Instance), network);
    }

    /// <summary>A block as the volume lays it out: the chunk <see cref="Room"/> bytes in, the room in front full of junk.</summary>
    private static (SharedArray Block, byte[] Chunk) Block(int length, int seed)
    {
        var chunk = Peers.RandomBytes(length, seed);
        var block = SharedArray.Rent(Room + length);
        block.Array.AsSpan(0, Room).Fill(0xEE);
        chunk.CopyTo(block.Array.AsSpan(Room));
        return (block, chunk);
    }

    [Fact]
    public async Task A_lent_block_goes_back_to_the_pool_only_after_its_push_ended_and_the_peer_gets_exactly_the_put_of_the_chunk()
    {
        var (replicator, network) = Writer();
        var (block, chunk) = Block(1 << 20, 1);
        var id = ChunkId.Of(chunk);

        replicator.Offer(id, chunk, new LendableBytes(block, Room, chunk.Length));
        // The volume disposes the sealed block as soon as its chunk is stored: the push must still hold the array.
        block.Release();
        await network.Called.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, block.References);

        network.Gate.SetResult();
        Assert.True(await replicator.ReplicateAsync([id], CancellationToken.None));
        Assert.Equal(0, block.References);
        // Sent from the writer's own array (no copy), and byte for byte the put's encoding.
        Assert.Same(block.Array, network.SentFrom);
        Assert.Equal(ChunkCodec.Encode(new PutChunk(id, chunk)), network.Sent);
        var received = Assert.IsType<PutChunk>(ChunkCodec.DecodeRequest(network.Sent));
        Assert.Equal(id, received.Id);
        Assert.Equal(chunk, received.Bytes.ToArray());
    }

    [Fact]
    public async Task Bytes_with_too_little_room_in_front_are_copied_and_the_writer_keeps_its_array()
    {
        var (replicator, network) = Writer();
        var (block, chunk) = Block(1 << 20, 2);
        var id = ChunkId.Of(chunk);

        // 8 bytes in front: less than the put's envelope, so the room is not the replicator's to write.
        replicator.Offer(id, chunk, new LendableBytes(block, 8, chunk.Length));
        await network.Called.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, block.References);
        Assert.All(block.Array.AsSpan(0, 8).ToArray(), b => Assert.Equal(0xEE, b));
        block.Release();

        network.Gate.SetResult();
        Assert.True(await replicator.ReplicateAsync([id], CancellationToken.None));
        Assert.NotSame(block.Array, network.SentFrom);
        Assert.Equal(ChunkCodec.Encode(new PutChunk(id, chunk)), network.Sent);
    }
}
