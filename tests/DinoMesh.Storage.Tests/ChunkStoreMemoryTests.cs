using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// Measures what the chunk store keeps alive. The heap count is process-wide, so these tests run
/// in a collection of their own with nothing else in parallel: another test's buffers would
/// otherwise count as the store's.
/// </summary>
[Collection(HeapMeasurementCollection.Name)]
public sealed class ChunkStoreMemoryTests
{
    [Fact]
    public async Task PutAsync_64MiBOfChunks_StreamsWithoutHoldingThem()
    {
        using var fixture = new StoreFixture();
        const int chunkSize = 256 * 1024, count = 256; // 64 MiB
        var buffer = new byte[chunkSize];
        var ids = new List<ChunkId>(count);
        var ct = TestContext.Current.CancellationToken;
        long memoryBefore = GC.GetTotalMemory(forceFullCollection: true);

        for (int i = 0; i < count; i++)
        {
            Fill(buffer, i);
            var result = await fixture.Store.PutAsync(buffer, ct);
            Assert.Equal(ChunkWriteStatus.Stored, result.Status);
            ids.Add(result.Id);
        }
        long growth = GC.GetTotalMemory(forceFullCollection: true) - memoryBefore;

        Assert.True(growth < 8 * 1024 * 1024, $"the store held on to {growth} bytes after writing 64 MiB");
        Assert.Equal(count, ids.Distinct().Count());
        var read = new byte[chunkSize];
        for (int i = 0; i < count; i++)
        {
            Fill(buffer, i);
            Assert.Equal(chunkSize, fixture.Store.Read(ids[i], 0, read).BytesRead);
            Assert.True(read.AsSpan().SequenceEqual(buffer), $"chunk {i} differs");
        }
    }

    /// <summary>Distinct content per chunk at the cost of a few writes: random-looking bytes are not needed here.</summary>
    private static void Fill(byte[] buffer, int seed)
    {
        for (int offset = 0; offset < buffer.Length; offset += 4096)
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(offset), ((long)seed << 32) | (uint)offset);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapMeasurementCollection
{
    public const string Name = "heap measurement";
}
