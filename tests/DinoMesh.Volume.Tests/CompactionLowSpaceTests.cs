using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using Microsoft.Extensions.Logging;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// The node's chunk disk (a small tmpfs) is nearly full: the compactor's merged chunk would still fit, but would leave
/// less than the free-space reserve. The compactor stores nothing (counted as lowSpace, paused, the block kept queued),
/// so a user's write of a few KiB that the merged chunk would have left no room for still succeeds; once space is
/// freed, the block is compacted.
/// </summary>
public sealed class CompactionLowSpaceTests
{
    private static readonly FuseContext Owner = Caller(1000, 1000);
    // 320 x 100 B: inline pieces (no chunk, no disk), past the busy cap of 256 in one block; merged, a chunk of 4-32 KB.
    private const int Pieces = 320, PieceBytes = 100;
    // Free: room for the largest merged chunk (32,000 B: 8 pages) and one page, not for the user's write after it.
    private const long Free = 9 * 4096;
    private const long Reserve = 64 * 1024;
    private const int UserBytes = 12 * 1024;
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task A_merged_chunk_that_would_leave_less_than_the_reserve_is_not_stored_and_a_users_write_still_succeeds()
    {
        var ct = TestContext.Current.CancellationToken;
        using var disk = SmallTmpfs.Mount(megabytes: 4);
        var options = new VolumeOptions
        {
            CompactionScanEvery = TimeSpan.FromMilliseconds(100),
            CompactionFreeSpaceReserve = Reserve,
            CompactionNoSpacePause = Pause,
            CompactionNoSpacePauseMax = 2 * Pause,
        };
        var log = new LogLines();
        using var volume = new TestVolume(options, Path.Combine(disk.Path, "data"), log);
        volume.Fs.Mounted(new NoKernel());
        try
        {
            var filler = Path.Combine(disk.Path, "filler");
            SmallTmpfs.LeaveFree(filler, Free);
            Assert.Equal(Free, volume.Store.Capacity().Free);

            var (ino, fh) = await volume.CreateAsync(Owner, "log");
            for (var i = 0; i < Pieces; i++)
            {
                await volume.WriteAsync(Owner, ino, fh, i * (long)PieceBytes, Piece(i));
                Assert.Equal(0, await volume.Fs.FlushAsync(Owner, ino, fh, 0));
            }
            await volume.CloseAsync(Owner, ino, fh);

            await Until(() => volume.Fs.Compaction.LowSpace > 0, "a compaction held back by the reserve", ct);
            var counts = volume.Fs.Compaction;
            TestContext.Current.TestOutputHelper?.WriteLine($"held back: {counts}");
            Assert.Equal(0, counts.Compacted);
            Assert.Equal(0, counts.NoSpace);
            Assert.Equal(Pieces, volume.Meta.Current.Find(ino)!.Extents.Count);
            // No chunk was written: the free space is what the user found.
            Assert.Empty(volume.Store.Enumerate());
            Assert.Equal(Free, volume.Store.Capacity().Free);
            // One info line per pause, nothing louder: nothing failed.
            Assert.Empty(log.AtLeast(LogLevel.Warning));
            Assert.Contains(log.Lines, l => l.Level == LogLevel.Information && l.Message.Contains("kept free for writes"));

            // The user's write (a chunk of 3 pages) fits: the merged chunk would have left 1-2 pages.
            var (user, userFh) = await volume.CreateAsync(Owner, "user");
            var userBytes = Bytes(UserBytes, 7);
            await volume.WriteAsync(Owner, user, userFh, 0, userBytes);
            Assert.Equal(0, await volume.Fs.FlushAsync(Owner, user, userFh, 0));
            Assert.Equal(userBytes, await volume.ReadAsync(Owner, user, userFh, 0, UserBytes));
            await volume.CloseAsync(Owner, user, userFh);

            File.Delete(filler);
            await Until(() => volume.Meta.Current.Find(ino)!.Extents.Count < Pieces, "the block compacted once space was freed", ct);
            Assert.True(volume.Fs.Compaction.Compacted > 0, volume.Fs.Compaction.ToString());
            var reopened = await volume.OpenAsync(Owner, ino);
            var expected = Enumerable.Range(0, Pieces).SelectMany(Piece).ToArray();
            Assert.Equal(expected, await volume.ReadAsync(Owner, ino, reopened, 0, Pieces * PieceBytes));
        }
        finally
        {
            volume.Fs.Unmounted();
        }
    }

    private static byte[] Piece(int i) => Bytes(PieceBytes, (byte)i);
}
