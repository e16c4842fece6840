using DinoMesh.Storage.Chunks;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// A chunk whose writeback failed must never be reported durable. The kernel tells syncfs(2) of a writeback error only
/// through a descriptor opened before anyone else was told of it; the store opened a fresh one for every sync, so after
/// another node on the same disk (or any `sync -f`) had seen the error, the store's fsync succeeded over chunks that
/// never reached the disk.
/// </summary>
public sealed class ChunkWritebackErrorTests
{
    [Fact]
    public void A_writeback_error_someone_else_saw_first_still_fails_the_sync_and_every_sync_after_it()
    {
        using var disk = FailingDisk.Create();
        var store = new ChunkStore(Path.Combine(disk.Path, "chunks"), Path.Combine(disk.Path, "tmp"));
        disk.FailUnder(store, mib: 8);
        // Another observer syncs the same filesystem first and is told of the error (it is "seen" from then on).
        var (code, output) = Commands.Run("sync", "-f", disk.Path);
        Assert.True(code != 0, $"the first observer's syncfs should report the failed writeback: exit {code}, {output}");
        // The disk works again (a transient fault), and a syncfs through a fresh descriptor is told nothing now: the
        // error was seen, and the pages that failed are clean.
        disk.Recover();
        (code, output) = Commands.Run("sync", "-f", disk.Path);
        Assert.True(code == 0, $"a fresh descriptor is not told of a seen error: exit {code}, {output}");

        var first = Assert.Throws<IOException>(store.SyncAll);
        // Sticky: nothing would tell the store a second time.
        var second = Assert.Throws<IOException>(store.SyncAll);
        Assert.Contains("fsync fails until the node restarts", second.Message);
        Assert.Equal(first.Message, second.Message);
    }
}
