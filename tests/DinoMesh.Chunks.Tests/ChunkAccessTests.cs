using System.Collections.Concurrent;
using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Volume;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests;

/// <summary>The volume's read path over a chunk source: fetch only what a read needs, once, verified, imported.</summary>
public sealed class ChunkAccessTests : IDisposable
{
    private const int Mib = 1 << 20;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("dinomesh-chunks-access-");
    private readonly DataDirectory _data;
    private readonly ChunkStore _store;

    public ChunkAccessTests()
    {
        _data = DataDirectory.Open(_dir.FullName);
        _store = new ChunkStore(_data);
    }

    /// <summary>A source that serves what it holds, counts asks per chunk, and can hold a chunk back until released.</summary>
    private sealed class FakeSource : IChunkSource
    {
        public readonly ConcurrentDictionary<ChunkId, byte[]> Held = new();
        public readonly ConcurrentDictionary<ChunkId, int> Asked = new();
        public readonly ConcurrentDictionary<ChunkId, TaskCompletionSource> Gates = new();
        public bool Lie;

        public async ValueTask<ChunkFetch> FetchAsync(ChunkId id, CancellationToken cancellationToken)
        {
            Asked.AddOrUpdate(id, 1, (_, n) => n + 1);
            if (Gates.TryGetValue(id, out var gate)) await gate.Task.WaitAsync(cancellationToken);
            if (!Held.TryGetValue(id, out var bytes)) return ChunkFetch.Failed(ChunkFetchStatus.NotFound, "not held");
            if (Lie) bytes = [.. bytes.Reverse()];
            return VerifiedChunk.TryVerify(id, bytes, out var chunk) ? ChunkFetch.Found(chunk.Value) : ChunkFetch.Failed(ChunkFetchStatus.NotFound, "bad bytes");
        }
    }

    private (ExtentMap Map, byte[][] Chunks) File(FakeSource source, int chunks)
    {
        var map = ExtentMap.Empty;
        var contents = new byte[chunks][];
        for (var i = 0; i < chunks; i++)
        {
            contents[i] = Peers.RandomBytes(Mib, i);
            var id = ChunkId.Of(contents[i]);
            source.Held[id] = contents[i];
            map = map.Write(new Extent((long)i * Mib, Mib, id, 0));
        }
        return (map, contents);
    }

    [Fact]
    public async Task A_read_fetches_the_missing_chunk_verifies_and_imports_it_then_reads_it()
    {
        var source = new FakeSource();
        var access = new ChunkAccess(_store, NullLogger.Instance, source, new ChunkAccessOptions { ReadAheadChunks = 0 });
        var (map, contents) = File(source, 2);
        var id = ChunkId.Of(contents[1]);

        Assert.Equal(FsError.None, await access.PrepareAsync(7, map, Mib + 100, 4096, CancellationToken.None));
        var buffer = new byte[4096];
        Assert.Equal(FsError.None, access.Load(id, 100, buffer));

        Assert.Equal(contents[1].AsSpan(100, 4096).ToArray(), buffer);
        Assert.True(_store.Contains(id));
        Assert.False(_store.Contains(ChunkId.Of(contents[0])), "a chunk outside the range was fetched");
    }

    [Fact]
    public async Task A_read_waits_only_for_the_chunks_it_needs()
    {
        var source = new FakeSource();
        var access = new ChunkAccess(_store, NullLogger.Instance, source, new ChunkAccessOptions { ReadAheadChunks = 0 });
        var (map, contents) = File(source, 3);
        var stuck = new TaskCompletionSource();
        source.Gates[ChunkId.Of(contents[2])] = stuck;

        // Another reader is stuck on chunk 2; a read of chunk 0 still completes.
        var blocked = access.PrepareAsync(1, map, 2L * Mib, 10, CancellationToken.None).AsTask();
        var prepared = await access.PrepareAsync(1, map, 0, Mib, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(FsError.None, prepared);
        Assert.False(blocked.IsCompleted);
        stuck.SetResult();
        Assert.Equal(FsError.None, await blocked.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Concurrent_readers_of_one_missing_chunk_share_one_fetch()
    {
        var source = new FakeSource();
        var access = new ChunkAccess(_store, NullLogger.Instance, source, new ChunkAccessOptions { ReadAheadChunks = 0 });
        var (map, contents) = File(source, 1);
        var id = ChunkId.Of(contents[0]);
        var gate = new TaskCompletionSource();
        source.Gates[id] = gate;

        var readers = Enumerable.Range(0, 8).Select(i => access.PrepareAsync((ulong)i, map, i * 4096, 4096, CancellationToken.None).AsTask()).ToList();
        gate.SetResult();
        var results = await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.All(results, r => Assert.Equal(FsError.None, r));
        Assert.Equal(1, source.Asked[id]);
    }

    [Fact]
    public async Task A_read_of_a_chunk_being_fetched_waits_on_the_fetch_without_asking_the_store()
    {
        var source = new FakeSource();
        var access = new ChunkAccess(_store, NullLogger.Instance, source, new ChunkAccessOptions { ReadAheadChunks = 0 });
        var (map, contents) = File(source, 1);
        var id = ChunkId.Of(contents[0]);
        var gate = new TaskCompletionSource();
        source.Gates[id] = gate;
        var first = access.PrepareAsync(1, map, 0, 4096, CancellationToken.None).AsTask();

        // The chunk appears in the store behind the fetch's back: a read that asked the store would find it and go on;
        // one that looks at the running fetch first waits for it, as it should (the store is never asked).
        _store.Put(contents[0]);
        var second = access.PrepareAsync(2, map, 4096, 4096, CancellationToken.None).AsTask();

        Assert.False(second.IsCompleted, "the read asked the store instead of waiting on the fetch under way");
        gate.SetResult();
        Assert.Equal(FsError.None, await second.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(FsError.None, await first.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, source.Asked[id]);
    }

    [Fact]
    public async Task Bytes_that_do_not_verify_never_reach_the_reader()
    {
        var source = new FakeSource { Lie = true };
        var access = new ChunkAccess(_store, NullLogger.Instance, source, new ChunkAccessOptions { ReadAheadChunks = 0 });
        var (map, contents) = File(source, 1);

        Assert.Equal(FsError.Io, await access.PrepareAsync(1, map, 0, 4096, CancellationToken.None));
        Assert.Equal(FsError.Io, access.Load(ChunkId.Of(contents[0]), 0, new byte[4096]));
        Assert.False(_store.Contains(ChunkId.Of(contents[0])));
    }

    [Fact]
    public async Task A_sequential_read_fetches_the_next_chunks_ahead()
    {
        var source = new FakeSource();
        var access = new ChunkAccess(_store, NullLogger.Instance, source, new ChunkAccessOptions { ReadAheadChunks = 4 });
        var (map, contents) = File(source, 8);

        // Two reads, the second where the first ended: sequential from chunk 1 on.
        Assert.Equal(FsError.None, await access.PrepareAsync(3, map, 0, Mib, CancellationToken.None));
        Assert.Equal(FsError.None, await access.PrepareAsync(3, map, Mib, Mib, CancellationToken.None));

        var ahead = contents.Skip(2).Take(4).Select(c => ChunkId.Of(c)).ToList();
        Assert.True(await WaitUntil(() => ahead.All(_store.Contains)), "chunks 2-5 were not fetched ahead");
        Assert.False(_store.Contains(ChunkId.Of(contents[7])), "read-ahead went past its window");
    }

    [Fact]
    public async Task A_random_read_fetches_nothing_ahead()
    {
        var source = new FakeSource();
        var access = new ChunkAccess(_store, NullLogger.Instance, source, new ChunkAccessOptions { ReadAheadChunks = 4 });
        var (map, contents) = File(source, 6);

        Assert.Equal(FsError.None, await access.PrepareAsync(4, map, 3L * Mib, 4096, CancellationToken.None));
        Assert.Equal(FsError.None, await access.PrepareAsync(4, map, 0, 4096, CancellationToken.None));

        await Task.Delay(200);
        Assert.Equal(2, source.Asked.Count);
    }

    [Fact]
    public void Import_writes_verified_bytes_replaces_a_damaged_file_and_the_inventory_lists_it()
    {
        var bytes = Peers.RandomBytes(100_000, 9);
        Assert.True(VerifiedChunk.TryVerify(ChunkId.Of(bytes), bytes, out var chunk));
        var path = Path.Combine(_data.ChunkDirectory, chunk.Value.Id.ToString()[..2], chunk.Value.Id.ToString());
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllBytes(path, bytes[..500]);   // a short, damaged copy

        Assert.Equal(ChunkWriteStatus.Stored, _store.Import(chunk.Value).Status);
        Assert.Equal(ChunkWriteStatus.AlreadyPresent, _store.Import(chunk.Value).Status);
        var (status, read) = _store.ReadAll(chunk.Value.Id);
        Assert.Equal(ChunkReadStatus.Ok, status);
        Assert.Equal(bytes, read);
        var listed = Assert.Single(_store.Inventory());
        Assert.Equal((chunk.Value.Id, 100_000L), (listed.Id, listed.Length));
        Assert.Empty(Directory.EnumerateFiles(_data.TempDirectory));
    }

    private static async Task<bool> WaitUntil(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (condition()) return true;
            await Task.Delay(20);
        }
        return condition();
    }

    public void Dispose()
    {
        _data.Dispose();
        _dir.Delete(recursive: true);
    }
}
