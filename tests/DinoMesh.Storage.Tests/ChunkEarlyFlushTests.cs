using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// Large chunk files are written back off the write path and the device is flushed in the background every
/// <see cref="ChunkStoreOptions.EarlyFlushBytes"/>, so the syncfs of an fsync finds little left; none of it is a
/// durability point, and a writeback error a background flush sees first still fails the next sync.
/// </summary>
public sealed class ChunkEarlyFlushTests
{
    [Fact]
    public async Task Writing_past_the_early_flush_bytes_flushes_in_the_background_and_starts_each_large_files_writeback()
    {
        using var on = new StoreFixture(new ChunkStoreOptions { EarlyFlushBytes = 2 << 20 });
        using var off = new StoreFixture(new ChunkStoreOptions { EarlyFlushBytes = 0 });
        for (var i = 0; i < 3; i++)
        {
            on.Store.Put(StoreFixture.Random(1 << 20, i));
            off.Store.Put(StoreFixture.Random(1 << 20, 10 + i));
        }
        on.Store.Put(StoreFixture.Random(4 << 10, 20));

        await UntilAsync(() => on.Store.EarlyFlushes >= 1 && on.Store.WritebacksStarted >= 3 && off.Store.WritebacksStarted >= 3);

        Assert.Equal(0, off.Store.EarlyFlushes);
        // The small chunk is left to the kernel's own writeback, which batches small files.
        Assert.Equal(3, on.Store.WritebacksStarted);
    }

    [Fact]
    public async Task A_writeback_error_a_background_flush_saw_first_fails_the_next_sync_and_every_sync_after_it()
    {
        using var disk = FailingDisk.Create();
        var store = new ChunkStore(Path.Combine(disk.Path, "chunks"), Path.Combine(disk.Path, "tmp"), new ChunkStoreOptions { EarlyFlushBytes = 4 << 20 });
        // Fewer than 4 MiB go in before the disk fails (small chunks), so no background flush starts before it does.
        var flushesBefore = store.EarlyFlushes;
        disk.FailUnder(store, mib: 8);
        // 8 MiB written with a device flush every 4 MiB while their writeback fails: whatever a background flush
        // learns, it must not be what keeps the store's sync from hearing of the failure.
        await UntilAsync(() => store.EarlyFlushes > flushesBefore && !store.EarlyFlushRunning);
        disk.Recover();

        var first = Assert.Throws<IOException>(store.SyncAll);
        var second = Assert.Throws<IOException>(store.SyncAll);
        Assert.Contains("fsync fails until the node restarts", second.Message);
        Assert.Equal(first.Message, second.Message);
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++) await Task.Delay(20, TestContext.Current.CancellationToken);
        Assert.True(condition(), "not within 10 s");
    }
}
