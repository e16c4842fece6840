using System.Runtime.InteropServices;
using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// A large chunk file leaves the page cache once it is on disk (<see cref="ChunkStoreOptions.DropWrittenPages"/>).
/// Residency is read with mincore(2) over a mapping of the file, which does not fault the pages in.
/// </summary>
public sealed partial class ChunkWrittenPagesTests
{
    [Fact]
    public async Task A_large_chunk_file_leaves_the_page_cache_after_writeback_and_still_reads_back()
    {
        using var fixture = new StoreFixture();
        SkipOnTmpfs(fixture);
        var bytes = StoreFixture.Random(1 << 20, 1);
        var id = fixture.Store.Put(bytes).Id;

        await UntilAsync(() => fixture.Store.PagesDropped >= 1);

        Assert.Equal(0, ResidentPages(fixture.Store.PathOf(id)));
        var read = new byte[bytes.Length];
        Assert.Equal(bytes.Length, fixture.Store.Read(id, 0, read).BytesRead);
        Assert.Equal(bytes, read);
    }

    [Fact]
    public async Task A_chunk_file_written_back_alone_takes_one_sync_file_range_that_starts_and_waits()
    {
        using var fixture = new StoreFixture();
        SkipOnTmpfs(fixture);
        var id = fixture.Store.Put(StoreFixture.Random(1 << 20, 5)).Id;

        await UntilAsync(() => fixture.Store.PagesDropped >= 1);

        Assert.Equal(1, fixture.Store.WritebacksStarted);
        Assert.Equal(1, fixture.Store.WritebackRangeSyncs);
        Assert.Equal(0, ResidentPages(fixture.Store.PathOf(id)));
    }

    [Fact]
    public async Task Without_the_option_and_for_small_chunks_the_pages_stay_cached()
    {
        using var off = new StoreFixture(new ChunkStoreOptions { DropWrittenPages = false });
        SkipOnTmpfs(off);
        var large = off.Store.Put(StoreFixture.Random(1 << 20, 2)).Id;
        using var on = new StoreFixture();
        var small = on.Store.Put(StoreFixture.Random(64 << 10, 3)).Id;
        var marker = on.Store.Put(StoreFixture.Random(1 << 20, 4)).Id;

        // The worker handles files in order, so once the large one behind the small one is done, the small one was passed over.
        await UntilAsync(() => on.Store.PagesDropped >= 1);

        Assert.Equal(0, ResidentPages(on.Store.PathOf(marker)));
        Assert.Equal(256, ResidentPages(off.Store.PathOf(large)));
        Assert.Equal(16, ResidentPages(on.Store.PathOf(small)));
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++) await Task.Delay(20, TestContext.Current.CancellationToken);
        Assert.True(condition(), "the written chunk's pages were not dropped within 10 s");
    }

    internal static void SkipOnTmpfs(StoreFixture fixture)
    {
        // tmpfs pages are the file itself: there is no writeback, and nothing to drop.
        const long TmpfsMagic = 0x01021994;
        var stat = new StatFs();
        if (statfs(fixture.Directory.ChunkDirectory, ref stat) == 0 && stat.Type == TmpfsMagic)
        {
            Assert.Skip("the test directory is on tmpfs, whose pages cannot leave the cache");
        }
    }

    /// <summary>Pages of the file now in the page cache.</summary>
    internal static int ResidentPages(string path)
    {
        using var handle = File.OpenHandle(path);
        var length = (nuint)RandomAccess.GetLength(handle);
        var fd = (int)handle.DangerousGetHandle();
        var map = mmap(0, length, ProtRead, MapShared, fd, 0);
        Assert.NotEqual(-1, (long)map);
        try
        {
            var pages = new byte[(length + 4095) / 4096];
            Assert.Equal(0, mincore(map, length, pages));
            return pages.Count(p => (p & 1) != 0);
        }
        finally
        {
            munmap(map, length);
        }
    }

    private const int ProtRead = 1, MapShared = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct StatFs
    {
        public long Type;
        public long BlockSize;
        public ulong Blocks, FreeBlocks, AvailableBlocks, Files, FreeFiles;
        public long FsId;
        public long NameLength, FragmentSize, Flags;
        public long Spare0, Spare1, Spare2, Spare3;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statfs(string path, ref StatFs buffer);

    [LibraryImport("libc")]
    private static partial nint mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc")]
    private static partial int munmap(nint address, nuint length);

    [LibraryImport("libc")]
    private static partial int mincore(nint address, nuint length, [Out] byte[] vector);
}
