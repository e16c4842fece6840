using System.Collections.Concurrent;
using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Volume;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests;

/// <summary>
/// Whole chunks in pooled buffers on both ends (<see cref="BufferPool"/>): every buffer lent is given back exactly once,
/// by whoever holds it last, and no byte reaches a reader from a buffer after it went back or before its hash was checked.
/// </summary>
public sealed class PooledChunkTests : IAsyncDisposable
{
    private const int Mib = 1 << 20;
    private readonly Admission _admission = new();
    private readonly List<TlsNode> _nodes = [];
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("dinomesh-chunks-pooled-");

    private async Task<TlsNode> Node(Func<ChunkServer, DinoMesh.Transport.LendingUnaryHandler>? lending = null)
    {
        var node = await new TlsNode(_admission, lending: lending ?? (server => server.HandleLendingAsync)).StartAsync();
        _nodes.Add(node);
        return node;
    }

    private static ChunkFetcher Fetcher(TlsNode reader, ChunkLocations locations, params TlsNode[] others)
    {
        var live = new LiveSet();
        live.Set([.. others.Select(o => o.Peer), reader.Peer]);
        return new ChunkFetcher(reader.Network, new FixedCluster(reader.Peer.Id, live), locations, new ChunkOptions(), TimeProvider.System, NullLogger.Instance);
    }

    /// <summary>Waits (bounded) until <paramref name="pool"/> has every buffer it lent back: the server releases after its last write.</summary>
    private static async Task AllBack(BufferPool pool)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (pool.Counters.Rented != pool.Counters.Returned && DateTime.UtcNow < until) await Task.Delay(10);
        Assert.Equal(pool.Counters.Rented, pool.Counters.Returned);
    }

    [Fact]
    public void A_buffer_goes_back_on_its_last_release_only_once_and_is_lent_again()
    {
        var pool = new BufferPool();
        var first = pool.Rent(Mib);
        first.Retain();
        first.Release();
        Assert.Equal(0, pool.Counters.Returned);
        first.Release();
        Assert.Equal(1, pool.Counters.Returned);
        Assert.Equal(0, first.References);
        // A release too many, or a retain of a buffer in the pool, is a holder reading bytes that are not its own.
        Assert.Throws<InvalidOperationException>(first.Release);
        Assert.Throws<InvalidOperationException>(first.Retain);
        Assert.Equal(1, pool.Counters.Returned);

        var second = pool.Rent(Mib + 8);
        Assert.Same(first, second);
        Assert.Equal(Mib + 8, second.Memory.Length);
        Assert.Equal(1, second.References);
        Assert.Equal(1, pool.Counters.Allocated);
        unsafe
        {
            fixed (byte* start = second.Memory.Span) Assert.Equal(0, (long)start % BufferPool.Alignment);
        }
    }

    [Fact]
    public async Task A_fetched_chunk_arrives_in_a_pooled_buffer_that_is_the_callers_and_the_served_one_goes_back()
    {
        var holder = await Node();
        var reader = await Node();
        var bytes = Peers.RandomBytes(Mib, 1);
        var id = holder.Store.Add(bytes);

        var fetched = await Fetcher(reader, new ChunkLocations(), holder).FetchAsync(id, TestContext.Current.CancellationToken);

        Assert.True(fetched.Ok, fetched.Detail);
        Assert.Equal(bytes, fetched.Chunk!.Value.Bytes.ToArray());
        var lease = Assert.IsType<PooledBuffer>(fetched.Lease);
        Assert.True(lease.IsPooled);
        Assert.Equal(1, lease.References);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(fetched.Chunk.Value.Bytes, out var chunkBytes));
        Assert.Same(lease.Segment.Array, chunkBytes.Array);
        await AllBack(holder.Served);
        Assert.Equal(1, holder.Served.Counters.Rented);
        Assert.Equal(0, reader.Answers.Counters.Returned);

        lease.Release();
        Assert.Equal(1, reader.Answers.Counters.Returned);
        // The next fetch reuses the buffer that came back rather than a fresh megabyte.
        var again = await Fetcher(reader, new ChunkLocations(), holder).FetchAsync(holder.Store.Add(Peers.RandomBytes(Mib, 2)), TestContext.Current.CancellationToken);
        Assert.Same(lease, again.Lease);
        again.Lease!.Release();
        Assert.Equal(1, reader.Answers.Counters.Allocated);
    }

    /// <summary>Whether the memory starts on a page (what an O_DIRECT write wants of the memory it writes from).</summary>
    private static unsafe bool OnAPage(ReadOnlyMemory<byte> memory)
    {
        using var pin = memory.Pin();
        return (nint)pin.Pointer % BufferPool.Alignment == 0;
    }

    [Theory]
    [InlineData(Mib)]
    [InlineData(300 * 1024 + 123)]
    public async Task A_fetched_chunk_lands_on_a_page_of_its_buffer_and_is_imported_from_there_with_its_checksum(int length)
    {
        var holder = await Node();
        var reader = await Node();
        var bytes = Peers.RandomBytes(length, 5);
        var id = holder.Store.Add(bytes);

        var fetched = await Fetcher(reader, new ChunkLocations(), holder).FetchAsync(id, TestContext.Current.CancellationToken);

        Assert.True(fetched.Ok, fetched.Detail);
        var chunk = fetched.Chunk!.Value;
        // The chunk, not the answer in front of it, starts a page: the import writes the chunk file with O_DIRECT from
        // where the bytes were received, with no copy into aligned memory first.
        Assert.True(OnAPage(chunk.Bytes), "the fetched chunk does not start on a page");
        Assert.False(OnAPage(fetched.Lease!.Memory), "the answer's envelope should lie in front of the page");
        using var data = DataDirectory.Open(_dir.FullName);
        var store = new ChunkStore(data);
        Assert.Equal(ChunkWriteStatus.Stored, store.ImportFetched(chunk).Status);
        fetched.Lease.Release();
        // The buffer went back (and may be lent again) before the read: the bytes come from the chunk file, checked.
        // That the file carries its at-rest checksum is ChunkDirectImportTests' to show.
        var read = new byte[length];
        Assert.Equal(ChunkReadStatus.Ok, store.Read(id, 0, read).Status);
        Assert.Equal(bytes, read);
        await AllBack(reader.Answers);
    }

    [Fact]
    public async Task The_nodes_own_registration_waits_for_the_chunk_server_and_then_sends_each_chunk_from_its_lent_buffer()
    {
        var ct = TestContext.Current.CancellationToken;
        var server = new TaskCompletionSource<ChunkServer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var holder = await new TlsNode(_admission, serverLater: server.Task).StartAsync();
        _nodes.Add(holder);
        var reader = await Node();
        var bytes = Peers.RandomBytes(Mib, 3);
        var id = holder.Store.Add(bytes);
        using var lent = new LentBytes(reader.Peer.Id.Short);

        // The transport is up before the chunk layer, as in dino-node: a get waits instead of failing.
        var fetch = Fetcher(reader, new ChunkLocations(), holder).FetchAsync(id, ct).AsTask();
        await Task.Delay(300, ct);
        Assert.False(fetch.IsCompleted);
        server.SetResult(holder.Server);
        var fetched = await fetch.WaitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.True(fetched.Ok, fetched.Detail);
        Assert.Equal(bytes, fetched.Chunk!.Value.Bytes.ToArray());
        fetched.Lease?.Release();
        await AllBack(holder.Served);
        Assert.Equal(1, holder.Served.Counters.Rented);
        // The chunk left from the buffer it was read into, not from a copy in a fresh array. The server counts the
        // exchange after its write returned, which may be after the reader has the answer and the buffer is back.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (lent.Bytes < Mib && DateTime.UtcNow < until) await Task.Delay(10, ct);
        Assert.Equal(Mib, lent.Bytes);
    }

    /// <summary>Listens to the transport's count of answer bytes sent from lent buffers, to one peer only.</summary>
    private sealed class LentBytes : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
        private long _bytes;

        public LentBytes(string peer)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "DinoMesh.Transport" && instrument.Name == "dinomesh.transport.sent_lent") listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "peer" && (string?)tag.Value == peer) Interlocked.Add(ref _bytes, value);
                }
            });
            _listener.Start();
        }

        public long Bytes => Interlocked.Read(ref _bytes);

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task A_corrupt_answer_is_rejected_its_buffer_goes_back_and_is_reused_for_the_good_answer()
    {
        // The liar damages the chunk in the buffer its server lent it (its own, until the transport sends it).
        var liar = await Node(server => async (peer, body, ct) =>
        {
            var answer = await server.HandleLendingAsync(peer, body, ct);
            answer.Body?.Memory.Span.Reverse();
            return answer;
        });
        var honest = await Node();
        var reader = await Node();
        var bytes = Peers.RandomBytes(Mib, 3);
        var id = liar.Store.Add(bytes);
        honest.Store.Add(bytes);
        var locations = new ChunkLocations();
        locations.Proposed(id, liar.Identity.PeerId);
        var fetcher = Fetcher(reader, locations, liar, honest);

        var fetched = await fetcher.FetchAsync(id, TestContext.Current.CancellationToken);

        Assert.True(fetched.Ok, fetched.Detail);
        Assert.Equal(1, fetcher.Counters.BadAnswers);
        Assert.Equal(bytes, fetched.Chunk!.Value.Bytes.ToArray());
        Assert.True(OnAPage(fetched.Chunk.Value.Bytes), "the good answer's chunk does not start on a page");
        // Two answers received, the bad one given back before the good one was: the good one landed in the same buffer,
        // over the bad bytes, and what the caller holds is what was verified.
        Assert.Equal(2, reader.Answers.Counters.Rented);
        Assert.Equal(1, reader.Answers.Counters.Returned);
        Assert.Equal(1, reader.Answers.Counters.Allocated);
        Assert.Equal(1, fetched.Lease!.References);
        fetched.Lease.Release();
        await AllBack(reader.Answers);
        await AllBack(liar.Served);
        await AllBack(honest.Served);
    }

    [Fact]
    public async Task A_missing_chunk_and_a_failed_fetch_lend_nothing_and_keep_nothing()
    {
        var holder = await Node();
        var reader = await Node();
        var fetcher = Fetcher(reader, new ChunkLocations(), holder);

        var missing = await fetcher.FetchAsync(ChunkId.Of("nowhere"u8), TestContext.Current.CancellationToken);
        Assert.Equal(ChunkFetchStatus.NotFound, missing.Status);
        Assert.Null(missing.Lease);

        // A peer that is not there: the call fails before any answer, so nothing is lent.
        var live = new LiveSet();
        live.Set([new ChunkPeer(holder.Peer.Id, "127.0.0.1:1"), reader.Peer]);
        var nowhere = new ChunkFetcher(reader.Network, new FixedCluster(reader.Peer.Id, live), new ChunkLocations(), new ChunkOptions(), TimeProvider.System, NullLogger.Instance);
        var unreachable = await nowhere.FetchAsync(ChunkId.Of(Peers.RandomBytes(Mib, 4)), TestContext.Current.CancellationToken);
        Assert.False(unreachable.Ok);
        Assert.Null(unreachable.Lease);
        await AllBack(reader.Answers);
    }

    /// <summary>A source whose chunks come in pooled buffers, as the cluster's fetcher's do; it remembers what it lent.</summary>
    private sealed class PooledSource(BufferPool pool) : IChunkSource
    {
        public readonly ConcurrentDictionary<ChunkId, byte[]> Held = new();
        public readonly ConcurrentDictionary<ChunkId, PooledBuffer> Lent = new();

        public ValueTask<ChunkFetch> FetchAsync(ChunkId id, CancellationToken cancellationToken)
        {
            if (!Held.TryGetValue(id, out var bytes)) return ValueTask.FromResult(ChunkFetch.Failed(ChunkFetchStatus.NotFound, "not held"));
            var buffer = pool.Rent(bytes.Length);
            bytes.CopyTo(buffer.Memory);
            Lent[id] = buffer;
            return ValueTask.FromResult(VerifiedChunk.TryVerify(id, buffer.Memory, out var chunk)
                ? ChunkFetch.Found(chunk.Value, buffer)
                : ChunkFetch.Failed(ChunkFetchStatus.NotFound, "bad bytes"));
        }
    }

    [Fact]
    public async Task A_fetched_chunks_buffer_stays_lent_while_the_recent_fetch_memory_holds_it_and_goes_back_when_evicted()
    {
        using var data = DataDirectory.Open(_dir.FullName);
        var store = new ChunkStore(data);
        var pool = new BufferPool();
        var source = new PooledSource(pool);
        var access = new ChunkAccess(store, NullLogger.Instance, source, new ChunkAccessOptions { ReadAheadChunks = 0, RecentFetchedBytes = 2 * Mib });
        var map = ExtentMap.Empty;
        var contents = new byte[3][];
        for (var i = 0; i < 3; i++)
        {
            contents[i] = Peers.RandomBytes(Mib, 10 + i);
            source.Held[ChunkId.Of(contents[i])] = contents[i];
            map = map.Write(new Extent((long)i * Mib, Mib, ChunkId.Of(contents[i]), 0));
        }
        var ids = contents.Select(c => ChunkId.Of(c)).ToArray();

        Assert.Equal(FsError.None, await access.PrepareAsync(1, map, 0, Mib, CancellationToken.None));
        // The fetch's own reference ended with the import; the recent-fetch memory holds the one left.
        Assert.Equal(1, source.Lent[ids[0]].References);
        var read = new byte[4096];
        Assert.Equal(FsError.None, access.Load(ids[0], 5000, read));
        Assert.Equal(contents[0].AsSpan(5000, 4096).ToArray(), read);
        Assert.Equal(1, source.Lent[ids[0]].References);

        Assert.Equal(FsError.None, await access.PrepareAsync(1, map, Mib, Mib, CancellationToken.None));
        Assert.Equal(FsError.None, await access.PrepareAsync(1, map, 2L * Mib, Mib, CancellationToken.None));
        // Two MiB of room: the first chunk was evicted and its buffer went back, once.
        Assert.Equal(0, source.Lent[ids[0]].References);
        Assert.Equal(1, pool.Counters.Returned);
        // The chunk file was written from the buffer before it went back: a later read gets the verified bytes from disk,
        // although the pool may have lent that buffer again meanwhile.
        var fromDisk = new byte[Mib];
        Assert.Equal(FsError.None, access.Load(ids[0], 0, fromDisk));
        Assert.Equal(contents[0], fromDisk);
        Assert.Equal(1, source.Lent[ids[2]].References);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var n in _nodes) await n.DisposeAsync();
        _dir.Delete(recursive: true);
    }
}
