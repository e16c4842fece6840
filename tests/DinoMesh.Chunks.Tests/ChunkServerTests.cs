using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;
using DinoMesh.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests;

/// <summary>How the chunk server answers a get: where the read runs, and what it lends.</summary>
public class ChunkServerTests
{
    /// <summary>Chunks in memory that note the thread each read ran on.</summary>
    private sealed class ThreadNotingChunks(InMemoryChunks inner) : ILocalChunks
    {
        public int ReadOn = -1;

        public (LocalRead Status, byte[]? Bytes) Read(ChunkId id)
        {
            ReadOn = Environment.CurrentManagedThreadId;
            return inner.Read(id);
        }

        public LocalWrite Import(VerifiedChunk chunk) => inner.Import(chunk);

        public bool Contains(ChunkId id) => inner.Contains(id);

        public bool Delete(ChunkId id) => inner.Delete(id);

        public IEnumerable<LocalChunk> Inventory() => inner.Inventory();

        public bool Sync() => inner.Sync();
    }

    [Fact]
    public void A_served_chunk_is_read_on_the_thread_its_request_came_on_and_lent_whole()
    {
        var memory = new InMemoryChunks();
        var bytes = Peers.RandomBytes(1 << 20, 11);
        var id = memory.Add(bytes);
        var chunks = new ThreadNotingChunks(memory);
        var buffers = new BufferPool();
        var server = new ChunkServer(chunks, new ChunkInventory(TimeProvider.System), () => new UsageAnswer(0, 0, 0, 0, 0, 0), NullLogger.Instance, buffers: buffers);
        var peer = new PeerContext(Peers.Id("reader"), true, null, ProtocolIds.Chunk, "bulk");

        // From a thread of its own, as a connection's loop would call it: a read handed to a worker runs elsewhere.
        LentAnswer answer = default;
        var caller = -1;
        var thread = new Thread(() =>
        {
            caller = Environment.CurrentManagedThreadId;
            answer = server.HandleLendingAsync(peer, ChunkCodec.Encode(new GetChunk(id)), CancellationToken.None).AsTask().GetAwaiter().GetResult();
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)));

        Assert.Equal(caller, chunks.ReadOn);
        var decoded = Assert.IsType<ChunkFound>(ChunkCodec.DecodeAnswer(answer.ToArrayAndRelease()));
        Assert.Equal(bytes, decoded.Bytes.ToArray());
    }
}
