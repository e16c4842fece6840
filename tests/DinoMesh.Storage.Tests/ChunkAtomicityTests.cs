using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>Chunks appear whole or not at all: the seed system wrote blobs in place, without temp file or rename.</summary>
public sealed class ChunkAtomicityTests
{
    [Fact]
    public async Task Puts_LeaveNoTempFiles()
    {
        using var fixture = new StoreFixture();

        for (int i = 0; i < 50; i++) Assert.True(fixture.Store.Put(StoreFixture.Random(1000 + i, seed: i)).Succeeded);
        for (int i = 0; i < 50; i++) Assert.True((await fixture.Store.PutAsync(StoreFixture.Random(2000 + i, seed: i), TestContext.Current.CancellationToken)).Succeeded);

        Assert.Empty(fixture.TempFiles());
        Assert.Equal(100, fixture.Store.Enumerate().Count());
    }

    [Fact]
    public void CrashBetweenTempWriteAndRename_LeavesNoVisibleChunk()
    {
        using var fixture = new StoreFixture();
        byte[] content = StoreFixture.Random(4096, seed: 1);
        var id = ChunkId.Of(content);
        // What a writer killed before its rename leaves behind: a complete temp file, and nothing in chunks/.
        string leftover = Path.Combine(fixture.Directory.TempDirectory, $"{id}.7.chunk-tmp");
        File.WriteAllBytes(leftover, content);
        string unrelated = Path.Combine(fixture.Directory.TempDirectory, "someone-elses-file");
        File.WriteAllText(unrelated, "keep me");

        var reopened = fixture.Reopen();

        Assert.False(reopened.Contains(id));
        Assert.Equal(ChunkReadStatus.NotFound, reopened.Read(id, 0, new byte[10]).Status);
        Assert.Empty(reopened.Enumerate());
        Assert.False(File.Exists(leftover));
        Assert.True(File.Exists(unrelated));
        Assert.Equal(ChunkWriteStatus.Stored, reopened.Put(content).Status);
    }

    [Fact]
    public async Task PutAsync_Cancelled_LeavesNothingBehind()
    {
        using var fixture = new StoreFixture();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        byte[] content = StoreFixture.Random(4096, seed: 2);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await fixture.Store.PutAsync(content, cancelled.Token));

        Assert.False(fixture.Store.Contains(ChunkId.Of(content)));
        Assert.Empty(fixture.TempFiles());
    }

    [Fact]
    public async Task Put_OnAFullFilesystem_ReturnsNoSpace_AndLeavesNoPartialChunk()
    {
        using var tmpfs = Tmpfs.Mount("1m");
        using var directory = DataDirectory.Open(Path.Combine(tmpfs.Path, "data"));
        var store = new ChunkStore(directory);
        byte[] small = StoreFixture.Random(4096, seed: 1);
        var smallId = store.Put(small).Id;

        var stored = new List<(ChunkId Id, byte[] Content)>();
        ChunkWriteResult? full = null;
        byte[]? refused = null;
        for (int i = 0; i < 64 && full is null; i++) // 64 x 64 KiB = 4 MiB: well past 1 MiB
        {
            byte[] content = StoreFixture.Random(64 * 1024, seed: 100 + i);
            var result = i % 2 == 0 ? store.Put(content) : await store.PutAsync(content, TestContext.Current.CancellationToken);
            if (result.Status == ChunkWriteStatus.Stored) stored.Add((result.Id, content));
            else (full, refused) = (result, content);
        }

        Assert.NotNull(full);
        Assert.Equal(ChunkWriteStatus.NoSpace, full.Value.Status);
        Assert.False(full.Value.Succeeded);
        Assert.Equal(ChunkId.Of(refused!), full.Value.Id);
        Assert.False(store.Contains(full.Value.Id));
        Assert.False(File.Exists(store.PathOf(full.Value.Id)));
        Assert.Empty(Directory.GetFiles(directory.TempDirectory));
        Assert.NotEmpty(stored);

        // What was stored before the disk filled up is intact, and a smaller chunk still fails cleanly or fits.
        var buffer = new byte[64 * 1024];
        foreach (var (id, content) in stored)
        {
            var read = store.Read(id, 0, buffer);
            Assert.Equal(ChunkReadStatus.Ok, read.Status);
            Assert.Equal(content, buffer);
        }
        var smallBuffer = new byte[4096];
        Assert.Equal(ChunkReadStatus.Ok, store.Read(smallId, 0, smallBuffer).Status);
        Assert.Equal(small, smallBuffer);
        Assert.Equal(stored.Count + 1, store.Enumerate().Count());

        // Space freed, the refused chunk fits.
        Assert.True(store.Delete(stored[0].Id));
        Assert.Equal(ChunkWriteStatus.Stored, store.Put(refused).Status);
    }
}
