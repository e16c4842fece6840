using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

public sealed class ChunkStoreTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData(1024 * 1024 + 3)]
    public void Put_ThenRead_ReturnsTheContent(int length)
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(length, seed: length);

        var written = fixture.Store.Put(content);
        var buffer = new byte[length + 10];
        var read = fixture.Store.Read(written.Id, 0, buffer);

        Assert.Equal(ChunkWriteStatus.Stored, written.Status);
        Assert.Equal(ChunkReadStatus.Ok, read.Status);
        Assert.Equal(length, read.BytesRead);
        Assert.Equal(content, buffer[..length]);
    }

    [Fact]
    public void Put_TheSameContentTwice_WritesOnce()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(5000, seed: 1);

        var first = fixture.Store.Put(content);
        string path = fixture.Store.PathOf(first.Id);
        var inode = Native.FileIdentity.OfPath(path)!.Value.Inode;
        var second = fixture.Store.Put(content);

        Assert.Equal(ChunkWriteStatus.Stored, first.Status);
        Assert.Equal(ChunkWriteStatus.AlreadyPresent, second.Status);
        Assert.True(second.Succeeded);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(inode, Native.FileIdentity.OfPath(path)!.Value.Inode);
        Assert.Single(fixture.Store.Enumerate());
        Assert.Empty(fixture.TempFiles());
    }

    [Fact]
    public async Task Put_NamesTheFileAfterTheSha256OfTheContent()
    {
        using var fixture = new StoreFixture();
        byte[] content = "hello, dino"u8.ToArray();

        var id = fixture.Store.Put(content).Id;
        var again = (await fixture.Store.PutAsync(content, TestContext.Current.CancellationToken)).Id;

        Assert.Equal(ChunkId.Of(content), id);
        Assert.Equal(id, again);
        string hex = id.ToString();
        string path = Path.Combine(fixture.Directory.ChunkDirectory, hex[..2], hex);
        Assert.Equal(path, fixture.Store.PathOf(id));
        Assert.Equal(content, File.ReadAllBytes(path));
    }

    [Fact]
    public void Put_OverAFileOfTheWrongLength_ReplacesIt()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(3000, seed: 2);
        var id = fixture.Store.Put(content).Id;
        File.WriteAllBytes(fixture.Store.PathOf(id), content[..100]);

        var again = fixture.Store.Put(content);

        Assert.Equal(ChunkWriteStatus.Stored, again.Status);
        Assert.Equal(content, File.ReadAllBytes(fixture.Store.PathOf(id)));
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(1, 1)]
    [InlineData(4095, 2)]
    [InlineData(262_143, 5)]   // across the verifier's 256 KiB block boundary
    [InlineData(100_000, 300_000)]
    public void Read_AtAnOffset_ReturnsThatRange(int offset, int length)
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(600_000, seed: 3);
        var id = fixture.Store.Put(content).Id;

        // Twice: the first read hashes the chunk, the second may come from the verified cache.
        for (int i = 0; i < 2; i++)
        {
            var buffer = new byte[length];
            var read = fixture.Store.Read(id, offset, buffer);

            Assert.Equal(ChunkReadStatus.Ok, read.Status);
            Assert.Equal(length, read.BytesRead);
            Assert.Equal(content.AsSpan(offset, length).ToArray(), buffer);
        }
    }

    [Fact]
    public void Read_NearAndPastTheEnd_ReturnsWhatIsLeft()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(1000, seed: 4);
        var id = fixture.Store.Put(content).Id;
        var buffer = new byte[64];

        var tail = fixture.Store.Read(id, 990, buffer);
        var atEnd = fixture.Store.Read(id, 1000, buffer);
        var past = fixture.Store.Read(id, 5000, buffer);

        Assert.Equal((ChunkReadStatus.Ok, 10), (tail.Status, tail.BytesRead));
        Assert.Equal(content[990..], buffer[..10]);
        Assert.Equal((ChunkReadStatus.Ok, 0), (atEnd.Status, atEnd.BytesRead));
        Assert.Equal((ChunkReadStatus.Ok, 0), (past.Status, past.BytesRead));
    }

    [Fact]
    public void Read_AMissingChunk_IsNotFound()
    {
        using var fixture = new StoreFixture();
        var id = ChunkId.Of("never stored"u8);

        var read = fixture.Store.Read(id, 0, new byte[10]);

        Assert.Equal(ChunkReadStatus.NotFound, read.Status);
        Assert.Equal(0, read.BytesRead);
        Assert.False(fixture.Store.Contains(id));
        Assert.Equal(-1, fixture.Store.Length(id));
    }

    [Fact]
    public void ContainsLengthDeleteEnumerate_ReflectTheStore()
    {
        using var fixture = new StoreFixture();
        var ids = Enumerable.Range(0, 20).Select(i => fixture.Store.Put(StoreFixture.Random(100 + i, seed: i)).Id).ToList();

        Assert.All(ids, id => Assert.True(fixture.Store.Contains(id)));
        Assert.Equal(105, fixture.Store.Length(ids[5]));
        Assert.Equal(ids.ToHashSet(), fixture.Store.Enumerate().ToHashSet());

        Assert.True(fixture.Store.Delete(ids[3]));
        Assert.False(fixture.Store.Delete(ids[3]));
        Assert.False(fixture.Store.Contains(ids[3]));
        Assert.Equal(ChunkReadStatus.NotFound, fixture.Store.Read(ids[3], 0, new byte[1]).Status);
        Assert.Equal(19, fixture.Store.Enumerate().Count());
    }

    [Fact]
    public void Enumerate_IgnoresFilesThatAreNotChunks()
    {
        using var fixture = new StoreFixture();
        var id = fixture.Store.Put("x"u8).Id;
        string fanOut = Path.GetDirectoryName(fixture.Store.PathOf(id))!;
        File.WriteAllText(Path.Combine(fanOut, "notes.txt"), "x");
        File.WriteAllText(Path.Combine(fixture.Directory.ChunkDirectory, "stray"), "x");
        Directory.CreateDirectory(fixture.Store.QuarantineDirectory);
        File.WriteAllText(Path.Combine(fixture.Store.QuarantineDirectory, id.ToString()), "x");

        Assert.Equal([id], fixture.Store.Enumerate().ToArray());
    }

    [Fact]
    public void Capacity_ReportsTheFilesystem()
    {
        using var fixture = new StoreFixture();
        var expected = new DriveInfo(fixture.Directory.ChunkDirectory);

        var (total, free) = fixture.Store.Capacity();

        Assert.True(total > 0);
        Assert.InRange(free, 0, total);
        Assert.Equal(expected.TotalSize, total);
    }

    [Fact]
    public void SyncAll_AfterPutsAndDeletes_Succeeds()
    {
        using var fixture = new StoreFixture();
        var ids = Enumerable.Range(0, 10).Select(i => fixture.Store.Put(StoreFixture.Random(4096, seed: i)).Id).ToList();
        fixture.Store.Delete(ids[0]);

        fixture.Store.SyncAll();
        fixture.Store.SyncAll();

        Assert.Equal(9, fixture.Store.Enumerate().Count());
    }

    [Fact]
    public async Task Put_WithSyncEachChunk_StoresDurablyAtOnce()
    {
        using var fixture = new StoreFixture(new ChunkStoreOptions { SyncEachChunk = true });
        byte[] content = StoreFixture.Random(8192, seed: 9);

        var written = fixture.Store.Put(content);
        var asyncWritten = await fixture.Store.PutAsync(StoreFixture.Random(8192, seed: 10), TestContext.Current.CancellationToken);

        Assert.Equal(ChunkWriteStatus.Stored, written.Status);
        Assert.Equal(ChunkWriteStatus.Stored, asyncWritten.Status);
        var buffer = new byte[8192];
        Assert.Equal(8192, fixture.Store.Read(written.Id, 0, buffer).BytesRead);
        Assert.Equal(content, buffer);
    }

    [Fact]
    public void Directories_AreOwnerOnly()
    {
        using var fixture = new StoreFixture();
        var id = fixture.Store.Put("x"u8).Id;

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.GetDirectoryName(fixture.Store.PathOf(id))!));
    }
}
