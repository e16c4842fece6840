using System.Collections.Concurrent;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// How often the read path asks the store whether it holds a chunk (a statx each, failing for a chunk about to be
/// fetched): once per chunk, however many readers reach it together. The kernel sends a file's READs on several
/// threads, and their read-ahead windows overlap (docs/benchmarks.md, "Remote cold read: the system calls of a fetched
/// and of a served chunk counted again").
/// </summary>
public sealed class ChunkLookTests : IDisposable
{
    private const int ChunkSize = 4096;
    private const int Ahead = 32;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("dinomesh-volume-looks-");
    private readonly DataDirectory _data;
    private readonly ChunkStore _store;

    public ChunkLookTests()
    {
        _data = DataDirectory.Open(_dir.FullName);
        _store = new ChunkStore(_data);
    }

    /// <summary>Serves what it holds once its gate opens; counts the asks per chunk.</summary>
    private sealed class GatedSource : IChunkSource
    {
        public readonly ConcurrentDictionary<ChunkId, byte[]> Held = new();
        public readonly ConcurrentDictionary<ChunkId, int> Asked = new();
        public readonly TaskCompletionSource Gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask<ChunkFetch> FetchAsync(ChunkId id, CancellationToken cancellationToken)
        {
            Asked.AddOrUpdate(id, 1, (_, n) => n + 1);
            await Gate.Task.WaitAsync(cancellationToken);
            return Held.TryGetValue(id, out var bytes) && VerifiedChunk.TryVerify(id, bytes, out var chunk)
                ? ChunkFetch.Found(chunk.Value)
                : ChunkFetch.Failed(ChunkFetchStatus.NotFound, "not held");
        }
    }

    /// <summary>A file of <paramref name="chunks"/> chunks of its own bytes; the first <paramref name="local"/> in the store, the rest only at the source.</summary>
    private (ExtentMap Map, ChunkId[] Ids) File(GatedSource source, int chunks, int local, int seed)
    {
        var map = ExtentMap.Empty;
        var ids = new ChunkId[chunks];
        var random = new Random(seed);
        for (var i = 0; i < chunks; i++)
        {
            var bytes = new byte[ChunkSize];
            random.NextBytes(bytes);
            ids[i] = ChunkId.Of(bytes);
            if (i < local) Assert.True(_store.Put(bytes).Succeeded);
            else source.Held[ids[i]] = bytes;
            map = map.Write(new Extent((long)i * ChunkSize, ChunkSize, ids[i], 0));
        }
        return (map, ids);
    }

    [Fact]
    public async Task Readers_that_reach_the_same_read_ahead_window_together_ask_the_store_once_per_chunk()
    {
        // Each round: one file (chunk 0 here, chunks 1-33 at the source), one reader per CPU (at least 2) that read chunk
        // 0 and then, all released at the same instant, chunk 1: each second read looks at chunks 2-9 ahead and chunk 1
        // itself. Whether two readers race for a chunk depends on the scheduler, so the rounds give it many chances;
        // the claim makes the count exact in every one.
        const int rounds = 50;
        int readers = Math.Max(2, Environment.ProcessorCount);
        for (var round = 0; round < rounds; round++)
        {
            var source = new GatedSource();
            var access = new ChunkAccess(_store, NullLogger.Instance, source,
                new ChunkAccessOptions { ChunkSize = ChunkSize, ReadAheadChunks = Ahead });
            var (map, ids) = File(source, 1 + 1 + Ahead, local: 1, seed: round);
            for (var r = 0; r < readers; r++)
                Assert.Equal(FsError.None, await access.PrepareAsync((ulong)r, map, 0, ChunkSize, CancellationToken.None));
            var before = access.StoreLooks;

            var go = 0;
            var ready = 0;
            var prepared = new Task<FsError>[readers];
            var threads = Enumerable.Range(0, readers).Select(r => new Thread(() =>
            {
                Interlocked.Increment(ref ready);
                // Spinning, not blocking: a blocked thread wakes tens of microseconds late, after the others' looks.
                while (Volatile.Read(ref go) == 0) Thread.SpinWait(1);
                prepared[r] = access.PrepareAsync((ulong)r, map, ChunkSize, ChunkSize, CancellationToken.None).AsTask();
            })).ToList();
            threads.ForEach(t => t.Start());
            while (Volatile.Read(ref ready) < readers) Thread.Yield();
            Volatile.Write(ref go, 1);
            threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(30))));

            Assert.Equal(1 + Ahead, access.StoreLooks - before);
            source.Gate.SetResult();
            Assert.All(await Task.WhenAll(prepared).WaitAsync(TimeSpan.FromSeconds(30)), e => Assert.Equal(FsError.None, e));
            Assert.All(ids.Skip(1), id => Assert.Equal(1, source.Asked[id]));
            // The read-ahead's fetches are not waited on by the reads: each ends with its chunk imported.
            Assert.True(await Imported(ids.Skip(1)), "a fetched chunk was not imported");
        }
    }

    private async Task<bool> Imported(IEnumerable<ChunkId> ids)
    {
        for (var i = 0; i < 500; i++)
        {
            if (ids.All(_store.Contains)) return true;
            await Task.Delay(20);
        }
        return ids.All(_store.Contains);
    }

    [Fact]
    public async Task A_chunk_found_here_while_claimed_is_read_from_the_store_and_never_fetched()
    {
        // All chunks here: the read-ahead's and the read's looks each claim a chunk, find it and let it go again; nothing
        // is fetched, nothing is left claimed (a later read of the same chunks looks again and finds them), and the bytes
        // read are the store's.
        var source = new GatedSource();
        var access = new ChunkAccess(_store, NullLogger.Instance, source,
            new ChunkAccessOptions { ChunkSize = ChunkSize, ReadAheadChunks = Ahead });
        var (map, ids) = File(source, 1 + 1 + Ahead, local: 1 + 1 + Ahead, seed: 99);

        Assert.Equal(FsError.None, await access.PrepareAsync(1, map, 0, ChunkSize, CancellationToken.None));
        Assert.Equal(FsError.None, await access.PrepareAsync(1, map, ChunkSize, ChunkSize, CancellationToken.None));
        var looks = access.StoreLooks;
        Assert.Equal(FsError.None, await access.PrepareAsync(2, map, 5L * ChunkSize, ChunkSize, CancellationToken.None));

        Assert.Empty(source.Asked);
        Assert.Equal(looks + 1, access.StoreLooks);
        var buffer = new byte[ChunkSize];
        Assert.Equal(FsError.None, access.Load(ids[5], 0, buffer));
        Assert.Equal(ids[5], ChunkId.Of(buffer));
    }

    public void Dispose()
    {
        _data.Dispose();
        _dir.Delete(recursive: true);
    }
}
