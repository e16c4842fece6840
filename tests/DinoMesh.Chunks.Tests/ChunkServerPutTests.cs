using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests;

/// <summary>
/// Where a pushed chunk is checked and stored: on the thread that read it when it came over a bulk connection (that
/// connection carries one call at a time, so a hop to another thread buys nothing), off it on the paths whose reading
/// thread other calls share.
/// </summary>
public sealed class ChunkServerPutTests
{
    /// <summary>A store that notes the thread each import ran on.</summary>
    private sealed class ThreadNotingChunks : ILocalChunks
    {
        private readonly InMemoryChunks _inner = new();

        public int? ImportThread;

        public (LocalRead Status, byte[]? Bytes) Read(ChunkId id) => _inner.Read(id);

        public LocalWrite Import(VerifiedChunk chunk)
        {
            ImportThread = Environment.CurrentManagedThreadId;
            return _inner.Import(chunk);
        }

        public bool Contains(ChunkId id) => _inner.Contains(id);

        public bool Delete(ChunkId id) => _inner.Delete(id);

        public IEnumerable<LocalChunk> Inventory() => _inner.Inventory();

        public bool Sync() => _inner.Sync();
    }

    private static (ChunkServer Server, ThreadNotingChunks Store) Server()
    {
        var store = new ThreadNotingChunks();
        return (new ChunkServer(store, new ChunkInventory(TimeProvider.System), () => new UsageAnswer(1, 2, 3, 4, 5, 6), NullLogger.Instance), store);
    }

    private static byte[] PutOf(byte[] bytes) => ChunkCodec.Encode(new PutChunk(ChunkId.Of(bytes), bytes));

    private static PeerContext Caller(string transport) => new(Peers.Id("writer"), true, null, ProtocolIds.Chunk, transport);

    [Fact]
    public async Task A_put_over_a_bulk_connection_is_checked_and_stored_on_the_thread_that_read_it()
    {
        var (server, store) = Server();
        var bytes = Peers.RandomBytes(1 << 20, 7);
        var thread = Environment.CurrentManagedThreadId;

        var pending = server.HandleLendingAsync(Caller("bulk/tls1.3"), PutOf(bytes), CancellationToken.None);

        Assert.True(pending.IsCompleted);
        Assert.Equal(thread, store.ImportThread);
        var answer = await pending;
        Assert.Equal(new PutAnswer(PutOutcome.Stored), ChunkCodec.DecodeAnswer(answer.ToArrayAndRelease()));
        Assert.True(store.Contains(ChunkId.Of(bytes)));
    }

    [Fact]
    public async Task A_put_over_a_bulk_connection_that_does_not_hash_to_its_id_is_refused_and_not_kept()
    {
        var (server, store) = Server();
        var bytes = Peers.RandomBytes(1 << 20, 8);
        var claimed = ChunkId.Of(Peers.RandomBytes(16, 9));

        var answer = await server.HandleLendingAsync(Caller("bulk/tls1.3"), ChunkCodec.Encode(new PutChunk(claimed, bytes)), CancellationToken.None);

        Assert.Equal(new PutAnswer(PutOutcome.Corrupt), ChunkCodec.DecodeAnswer(answer.ToArrayAndRelease()));
        Assert.Null(store.ImportThread);
        Assert.False(store.Contains(claimed));
    }

    [Fact]
    public async Task A_put_over_a_shared_connection_is_stored_off_the_thread_that_read_it()
    {
        var (server, store) = Server();
        var bytes = Peers.RandomBytes(1 << 20, 10);
        var thread = Environment.CurrentManagedThreadId;

        var answer = await server.HandleLendingAsync(Caller("lean/tls1.3"), PutOf(bytes), CancellationToken.None);

        Assert.Equal(new PutAnswer(PutOutcome.Stored), ChunkCodec.DecodeAnswer(answer.ToArrayAndRelease()));
        Assert.NotNull(store.ImportThread);
        Assert.NotEqual(thread, store.ImportThread);
    }
}
