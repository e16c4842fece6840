using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// Which committed writes queue a look by the compactor (each look wakes its worker): only those leaving a block the
/// worker would act on — the threshold of extents (16) or more, or a block a write filled to its end with two or
/// more. A small file's create + write + close, thousands per second in the one-writer load, queues nothing.
/// </summary>
public sealed class CompactionQueueTests : IDisposable
{
    private static readonly FuseContext Owner = Caller(1000, 1000);
    private const int MiB = 1 << 20;
    private readonly TestVolume _volume = new();

    private long Queued => _volume.Fs.Compaction.Queued;

    [Fact]
    public async Task Small_files_written_and_closed_queue_nothing()
    {
        for (var i = 0; i < 200; i++) await _volume.WriteFileAsync(Owner, $"f{i}", Bytes(4096, (byte)i));
        // And files of a few flushed pieces, each block far below the threshold.
        for (var i = 0; i < 20; i++)
        {
            var (ino, fh) = await _volume.CreateAsync(Owner, $"g{i}");
            for (var piece = 0; piece < 3; piece++)
            {
                await _volume.WriteAsync(Owner, ino, fh, piece * 10_000, Bytes(10_000, (byte)piece));
                Assert.Equal(0, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));
            }
            await _volume.CloseAsync(Owner, ino, fh);
        }

        Assert.Equal(0, Queued);
    }

    [Fact]
    public async Task A_block_reaching_the_threshold_of_flushed_appends_is_queued()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "log");
        for (var i = 0; i < 15; i++)
        {
            await _volume.WriteAsync(Owner, ino, fh, i * 8192L, Bytes(8192, (byte)i));
            Assert.Equal(0, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));
        }
        Assert.Equal(0, Queued);

        await _volume.WriteAsync(Owner, ino, fh, 15 * 8192L, Bytes(8192, 15));
        Assert.Equal(0, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));

        Assert.True(Queued >= 1, $"{Queued} looks queued at 16 extents in one block");
        await _volume.CloseAsync(Owner, ino, fh);
    }

    [Fact]
    public async Task A_block_filled_to_its_end_by_a_second_write_is_queued()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "two-halves");
        await _volume.WriteAsync(Owner, ino, fh, 0, Bytes(MiB / 2, 1));
        Assert.Equal(0, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));
        Assert.Equal(0, Queued);

        await _volume.WriteAsync(Owner, ino, fh, MiB / 2, Bytes(MiB / 2, 2));
        Assert.Equal(0, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));

        Assert.True(Queued >= 1, $"{Queued} looks queued for a block filled by its second extent");
        await _volume.CloseAsync(Owner, ino, fh);
    }

    public void Dispose() => _volume.Dispose();
}
