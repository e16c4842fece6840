using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using Microsoft.Extensions.Logging;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// The node's chunk disk is really full (a small tmpfs, filled up) when the compactor stores its merged chunk: an
/// appender of small inline pieces goes on writing there (inline pieces need no chunk), and its block passes the busy
/// cap. The compactor fails with ENOSPC, loses no byte, counts the failure and pauses instead of failing again on every
/// append and every scan; the volume keeps serving reads; once space is freed the block is compacted.
/// </summary>
public sealed class CompactionNoSpaceTests
{
    private static readonly FuseContext Owner = Caller(1000, 1000);
    // 320 x 100 B: inline pieces, 32,000 B together (a chunk when merged), past the busy cap of 256 in one block.
    private const int Pieces = 320, PieceBytes = 100;
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task A_full_chunk_disk_loses_no_byte_pauses_the_compactor_and_the_block_is_compacted_once_space_is_freed()
    {
        var ct = TestContext.Current.CancellationToken;
        using var disk = SmallTmpfs.Mount(megabytes: 2);
        // No reserve (the default's 64 MiB would hold back every store on this 2 MiB disk before any ENOSPC) and a pause
        // that does not grow: this test is about the store's own ENOSPC (CompactionLowSpaceTests: the reserve).
        var options = new VolumeOptions
        {
            CompactionScanEvery = TimeSpan.FromMilliseconds(100),
            CompactionNoSpacePause = Pause,
            CompactionNoSpacePauseMax = Pause,
            CompactionFreeSpaceReserve = 0,
            CompactionReportEvery = TimeSpan.FromMilliseconds(200),
        };
        var log = new LogLines();
        using var volume = new TestVolume(options, Path.Combine(disk.Path, "data"), log);
        volume.Fs.Mounted(new NoKernel());
        try
        {
            var filler = Path.Combine(disk.Path, "filler");
            SmallTmpfs.Fill(filler);
            var fullSince = DateTime.UtcNow;

            var (ino, fh) = await volume.CreateAsync(Owner, "log");
            for (var i = 0; i < Pieces; i++)
            {
                await volume.WriteAsync(Owner, ino, fh, i * (long)PieceBytes, Piece(i));
                Assert.Equal(0, await volume.Fs.FlushAsync(Owner, ino, fh, 0));
            }
            var expected = Enumerable.Range(0, Pieces).SelectMany(Piece).ToArray();

            await Until(() => volume.Fs.Compaction.NoSpace > 0, "a compaction refused by the full disk", ct);
            // The disk stays full for two more pauses, with the periodic scan (every 100 ms) queuing the block meanwhile.
            await Task.Delay(2 * Pause, ct);
            var counts = volume.Fs.Compaction;
            var full = DateTime.UtcNow - fullSince;
            // At most one try per pause (and one at the start): not one per append past the busy cap, nor one per scan.
            var bound = 2 + (int)(full / Pause);
            TestContext.Current.TestOutputHelper?.WriteLine($"after {full.TotalSeconds:F1} s of a full disk: {counts}");
            Assert.True(counts.NoSpace <= bound, $"{counts.NoSpace} compactions failed on the full disk in {full.TotalSeconds:F1} s (at most {bound}): {counts}");
            Assert.Equal(0, counts.Compacted);
            Assert.Equal(Pieces, volume.Meta.Current.Find(ino)!.Extents.Count);
            // One warning per failed store, the compactor's: the store and ChunkAccess log its ENOSPC at Debug.
            var warnings = log.AtLeast(LogLevel.Warning);
            Assert.All(warnings, w => Assert.StartsWith("compaction paused", w));
            Assert.InRange(warnings.Count, counts.NoSpace - 1, volume.Fs.Compaction.NoSpace); // -1: counted, not yet logged
            // The once-a-minute summary says it too: a disk that stays full compacts nothing, so a summary of runs
            // compacted alone would stay silent (and its first line comes at the first failure, not a minute later).
            Assert.Contains(log.AtLeast(LogLevel.Information), l => l.StartsWith("compaction since start: 0 runs compacted") && l.Contains(" given up on a full disk"));
            // Every byte is there, read through the volume, which still serves reads.
            Assert.Equal(expected, await volume.ReadAsync(Owner, ino, fh, 0, Pieces * PieceBytes));
            await volume.CloseAsync(Owner, ino, fh);

            File.Delete(filler);
            await Until(() => volume.Meta.Current.Find(ino)!.Extents.Count < Pieces, "the block compacted once space was freed", ct);
            Assert.True(volume.Fs.Compaction.Compacted > 0, volume.Fs.Compaction.ToString());
            var reopened = await volume.OpenAsync(Owner, ino);
            Assert.Equal(expected, await volume.ReadAsync(Owner, ino, reopened, 0, Pieces * PieceBytes));
        }
        finally
        {
            volume.Fs.Unmounted();
        }
    }

    private static byte[] Piece(int i) => Bytes(PieceBytes, (byte)i);
}
