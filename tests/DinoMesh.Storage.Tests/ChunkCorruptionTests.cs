using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>Corrupt data is never returned: the seed system never verified blobs against their hash.</summary>
public sealed class ChunkCorruptionTests
{
    [Fact]
    public void Read_OfAFlippedByte_IsCorrupt_QuarantinesTheFile_AndReturnsNothing()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(10_000, seed: 1);
        var id = fixture.Store.Put(content).Id;
        string path = fixture.Store.PathOf(id);
        FlipByte(path, 5000);

        var buffer = new byte[content.Length];
        var read = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkReadStatus.Corrupt, read.Status);
        Assert.Equal(0, read.BytesRead);
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.False(File.Exists(path));
        string quarantined = Assert.Single(Directory.GetFiles(fixture.Store.QuarantineDirectory));
        Assert.StartsWith(id.ToString(), Path.GetFileName(quarantined), StringComparison.Ordinal);
        Assert.False(fixture.Store.Contains(id));
        Assert.Equal(ChunkReadStatus.NotFound, fixture.Store.Read(id, 0, buffer).Status);
        Assert.Empty(fixture.Store.Enumerate());
    }

    [Fact]
    public void Read_OfAFlippedByte_ReturnsNothingEvenForAnUntouchedRange()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(600_000, seed: 2);
        var id = fixture.Store.Put(content).Id;
        FlipByte(fixture.Store.PathOf(id), 599_999);

        var buffer = new byte[100];
        var read = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkReadStatus.Corrupt, read.Status);
        Assert.All(buffer, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Read_AfterCorruptionOfAChunkAlreadyVerified_IsCorrupt()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(100_000, seed: 3);
        var id = fixture.Store.Put(content).Id;
        // Let the file's ctime age past the racy window, so the first read is remembered as verified.
        Thread.Sleep(150);
        var buffer = new byte[10];

        var first = fixture.Store.Read(id, 0, buffer);
        var second = fixture.Store.Read(id, 10, buffer);
        long verificationsBeforeCorruption = fixture.Store.Verifications + fixture.Store.CheckedReads;
        FlipByte(fixture.Store.PathOf(id), 50);
        var afterCorruption = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkReadStatus.Ok, first.Status);
        Assert.Equal(ChunkReadStatus.Ok, second.Status);
        Assert.Equal(1, verificationsBeforeCorruption); // the second read came from the verified cache
        Assert.Equal(ChunkReadStatus.Corrupt, afterCorruption.Status);
        Assert.Equal(0, afterCorruption.BytesRead);
        Assert.False(fixture.Store.Contains(id));
    }

    [Fact]
    public void Read_AfterCorruptionRightAfterTheFirstRead_IsCorrupt()
    {
        // No pause: write, read and corrupt within one tick of the kernel's coarse file clock.
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(4096, seed: 4);
        var id = fixture.Store.Put(content).Id;
        var buffer = new byte[4096];

        var first = fixture.Store.Read(id, 0, buffer);
        FlipByte(fixture.Store.PathOf(id), 0);
        var second = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkReadStatus.Ok, first.Status);
        Assert.Equal(ChunkReadStatus.Corrupt, second.Status);
    }

    [Fact]
    public void Read_OfATruncatedChunk_IsCorrupt()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(10_000, seed: 5);
        var id = fixture.Store.Put(content).Id;
        using (var file = new FileStream(fixture.Store.PathOf(id), FileMode.Open, FileAccess.Write)) file.SetLength(9_000);

        var buffer = new byte[100];
        var read = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkReadStatus.Corrupt, read.Status);
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.Single(Directory.GetFiles(fixture.Store.QuarantineDirectory));
    }

    [Fact]
    public void Read_OfAnEmptiedChunk_IsCorrupt()
    {
        using var fixture = new StoreFixture();
        var id = fixture.Store.Put(StoreFixture.Random(100, seed: 6)).Id;
        File.WriteAllBytes(fixture.Store.PathOf(id), []);

        Assert.Equal(ChunkReadStatus.Corrupt, fixture.Store.Read(id, 0, new byte[10]).Status);
    }

    [Fact]
    public void Put_AfterQuarantine_RepairsTheChunk()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(2048, seed: 7);
        var id = fixture.Store.Put(content).Id;
        FlipByte(fixture.Store.PathOf(id), 1);
        Assert.Equal(ChunkReadStatus.Corrupt, fixture.Store.Read(id, 0, new byte[1]).Status);

        var repaired = fixture.Store.Put(content);
        var buffer = new byte[2048];
        var read = fixture.Store.Read(id, 0, buffer);

        Assert.Equal(ChunkWriteStatus.Stored, repaired.Status);
        Assert.Equal(ChunkReadStatus.Ok, read.Status);
        Assert.Equal(content, buffer);
    }

    [Fact]
    public void VerifiedCache_IsBounded()
    {
        using var fixture = new StoreFixture(new ChunkStoreOptions { VerifiedCacheCapacity = 3 });
        var ids = Enumerable.Range(0, 6).Select(i => fixture.Store.Put(StoreFixture.Random(100, seed: i)).Id).ToList();
        Thread.Sleep(150);

        foreach (var id in ids) Assert.True(fixture.Store.Read(id, 0, new byte[1]).Succeeded);
        Assert.Equal(3, fixture.Store.VerifiedCount);
        // The oldest entries were evicted: reading one again hashes it again.
        long before = fixture.Store.Verifications + fixture.Store.CheckedReads;
        fixture.Store.Read(ids[0], 0, new byte[1]);
        Assert.Equal(before + 1, fixture.Store.Verifications + fixture.Store.CheckedReads);
    }

    /// <summary>Rewrites one byte in place: same length and inode, new content.</summary>
    internal static void FlipByte(string path, long offset)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        var one = new byte[1];
        RandomAccess.Read(handle, one, offset);
        one[0] ^= 0xFF;
        RandomAccess.Write(handle, one, offset);
    }
}
