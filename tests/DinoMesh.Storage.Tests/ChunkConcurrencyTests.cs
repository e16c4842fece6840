using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

public sealed class ChunkConcurrencyTests
{
    [Fact]
    public void ManyThreads_PuttingAndReadingTheSameChunks_SeeOnlyWholeCorrectChunks()
    {
        using var fixture = new StoreFixture();
        // Few distinct contents, many writers: the same chunk is put concurrently over and over.
        var contents = Enumerable.Range(0, 24).Select(i => StoreFixture.Random(1000 * (i + 1), seed: i)).ToArray();
        var ids = contents.Select(c => ChunkId.Of(c)).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int okReads = 0;

        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            var buffer = new byte[24_000];
            for (int op = 0; op < 300; op++)
            {
                int k = random.Next(contents.Length);
                if (random.Next(2) == 0)
                {
                    var result = fixture.Store.Put(contents[k]);
                    if (!result.Succeeded || result.Id != ids[k]) failures.Enqueue($"put {k}: {result}");
                }
                else
                {
                    var read = fixture.Store.Read(ids[k], 0, buffer);
                    if (read.Status == ChunkReadStatus.NotFound) continue;
                    if (read.Status != ChunkReadStatus.Ok || !buffer.AsSpan(0, read.BytesRead).SequenceEqual(contents[k]))
                        failures.Enqueue($"read {k}: {read}");
                    else Interlocked.Increment(ref okReads);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        foreach (var thread in threads) Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "a worker did not finish within 60 s");

        Assert.Empty(failures);
        Assert.True(okReads > 0);
        Assert.Equal(ids.ToHashSet(), fixture.Store.Enumerate().ToHashSet());
        Assert.Empty(fixture.TempFiles());
        Assert.Empty(Directory.Exists(fixture.Store.QuarantineDirectory) ? Directory.GetFiles(fixture.Store.QuarantineDirectory) : []);
    }
}
