using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Native;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// A large fetched chunk is imported with O_DIRECT (<see cref="ChunkStore.ImportFetched"/>): no page-cache copy, so no
/// dirty pages for the writeback worker to write back and drop; a tail shorter than a page goes through the cache; a
/// file system that refuses O_DIRECT gets the buffered write. Pages are counted with mincore(2)
/// (<see cref="ChunkWrittenPagesTests.ResidentPages"/>), in stores that do not drop written pages, so a buffered
/// write would leave every page it wrote.
/// </summary>
public sealed class ChunkDirectImportTests
{
    private const int MiB = 1024 * 1024;

    [Theory]
    [InlineData(0)] // the chunk's memory starts on a page: written from it
    [InlineData(8)] // as a received answer's chunk lies, behind its envelope: through an aligned copy
    public void A_fetched_chunk_is_written_past_the_page_cache_and_leaves_no_pages_for_the_writeback_worker(int offset)
    {
        using var fixture = new StoreFixture(new ChunkStoreOptions { DropWrittenPages = false });
        ChunkWrittenPagesTests.SkipOnTmpfs(fixture);
        byte[] content = StoreFixture.Random(MiB, seed: 61 + offset);
        var chunk = Received(content, offset);

        Assert.Equal(ChunkWriteStatus.Stored, fixture.Store.ImportFetched(chunk).Status);

        string path = fixture.Store.PathOf(chunk.Id);
        Assert.Equal(1, fixture.Store.DirectImports);
        // Written from where it lies when that starts a page (as a fetched chunk's answer is received), else copied first.
        Assert.Equal(offset == 0 ? 0 : 1, fixture.Store.DirectImportCopies);
        Assert.Equal(0, ChunkWrittenPagesTests.ResidentPages(path));
        Assert.Equal(0, fixture.Store.WritebacksStarted);
        Assert.Empty(fixture.TempFiles());
        AssertStored(fixture.Store, chunk.Id, content);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    public void A_fetched_chunk_with_a_tail_shorter_than_a_page_round_trips_with_only_the_tail_cached(int offset)
    {
        using var fixture = new StoreFixture(new ChunkStoreOptions { DropWrittenPages = false });
        ChunkWrittenPagesTests.SkipOnTmpfs(fixture);
        byte[] content = StoreFixture.Random(300 * 1024 + 123, seed: 71 + offset);
        var chunk = Received(content, offset);

        Assert.Equal(ChunkWriteStatus.Stored, fixture.Store.ImportFetched(chunk).Status);

        string path = fixture.Store.PathOf(chunk.Id);
        Assert.Equal(1, fixture.Store.DirectImports);
        Assert.Equal(1, ChunkWrittenPagesTests.ResidentPages(path));
        Assert.Equal(content.Length, new FileInfo(path).Length);
        AssertStored(fixture.Store, chunk.Id, content);
    }

    [Fact]
    public void A_fetched_chunk_on_a_file_system_that_refuses_O_DIRECT_is_imported_through_the_page_cache()
    {
        using var ramfs = Tmpfs.MountRamfs();
        using var directory = DataDirectory.Open(ramfs.Path);
        var store = new ChunkStore(directory);
        byte[] first = StoreFixture.Random(MiB, seed: 81);
        byte[] second = StoreFixture.Random(MiB, seed: 82);

        // The first import is refused O_DIRECT at open (and the file the refused open made is removed before the
        // buffered one is created); the second does not ask again.
        Assert.Equal(ChunkWriteStatus.Stored, store.ImportFetched(VerifiedChunk.Of(first)).Status);
        Assert.Equal(ChunkWriteStatus.Stored, store.ImportFetched(Received(second, 8)).Status);

        Assert.Equal(0, store.DirectImports);
        Assert.Empty(Directory.GetFiles(directory.TempDirectory));
        // ramfs keeps no user.* attributes either: no at-rest checksum, and reads check SHA-256 instead.
        AssertStored(store, ChunkId.Of(first), first, checksum: false);
        AssertStored(store, ChunkId.Of(second), second, checksum: false);
    }

    [Fact]
    public void A_fetched_chunk_that_does_not_fit_is_refused_with_NoSpace_leaves_no_temp_file_and_what_was_stored_reads_back()
    {
        // tmpfs takes O_DIRECT on this kernel; 3 MiB holds two 1 MiB chunks with their directories, not four.
        using var tmpfs = Tmpfs.Mount("3m");
        using var directory = DataDirectory.Open(Path.Combine(tmpfs.Path, "data"));
        var store = new ChunkStore(directory);
        var stored = new List<byte[]>();
        ChunkWriteResult? full = null;
        for (int i = 0; i < 6 && full is null; i++)
        {
            byte[] content = StoreFixture.Random(MiB, seed: 90 + i);
            var result = store.ImportFetched(Received(content, 8));
            if (result.Succeeded) stored.Add(content);
            else full = result;
        }

        Assert.NotNull(full);
        Assert.Equal(ChunkWriteStatus.NoSpace, full.Value.Status);
        Assert.False(store.Contains(full.Value.Id));
        Assert.Empty(Directory.GetFiles(directory.TempDirectory));
        Assert.NotEmpty(stored);
        Assert.True(store.DirectImports > 0, "no import took the direct path: the test does not cover it");
        foreach (var content in stored) AssertStored(store, ChunkId.Of(content), content);
    }

    [Fact]
    public void A_pushed_chunk_and_a_small_fetched_one_are_written_through_the_page_cache()
    {
        using var fixture = new StoreFixture(new ChunkStoreOptions { DropWrittenPages = false });
        ChunkWrittenPagesTests.SkipOnTmpfs(fixture);
        byte[] pushed = StoreFixture.Random(MiB, seed: 91);
        byte[] small = StoreFixture.Random(64 * 1024, seed: 92);

        Assert.Equal(ChunkWriteStatus.Stored, fixture.Store.Import(VerifiedChunk.Of(pushed)).Status);
        Assert.Equal(ChunkWriteStatus.Stored, fixture.Store.ImportFetched(VerifiedChunk.Of(small)).Status);

        Assert.Equal(0, fixture.Store.DirectImports);
        Assert.Equal(16, ChunkWrittenPagesTests.ResidentPages(fixture.Store.PathOf(ChunkId.Of(small))));
    }

    /// <summary>The chunk as a slice at <paramref name="offset"/> of a larger array, as a received answer holds it.</summary>
    private static VerifiedChunk Received(byte[] content, int offset)
    {
        var message = GC.AllocateUninitializedArray<byte>(offset + content.Length + DirectWrite.Page, pinned: true);
        int start = AlignedStart(message) + offset;
        content.CopyTo(message, start);
        return VerifiedChunk.Of(message.AsMemory(start, content.Length));
    }

    private static unsafe int AlignedStart(byte[] pinned)
    {
        fixed (byte* p = pinned) return (int)((DirectWrite.Page - (long)p % DirectWrite.Page) % DirectWrite.Page);
    }

    private static void AssertStored(ChunkStore store, ChunkId id, byte[] content, bool checksum = true)
    {
        string path = store.PathOf(id);
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        if (checksum)
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            Assert.Equal(AtRestChecksum.Of(id, content), AtRestChecksum.Read(handle));
        }
        var read = new byte[content.Length];
        Assert.Equal(ChunkReadStatus.Ok, store.Read(id, 0, read).Status);
        Assert.Equal(content, read);
    }
}
