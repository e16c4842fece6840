using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A writer is held back while its file has more than four blocks being stored (memory stays bounded), but a FUSE
/// WRITE waits for that as an unfinished answer, not on the thread that handles it: the polling FUSE reader copies a
/// WRITE itself and must read on.
/// </summary>
public sealed class WriteBoundTests : IDisposable
{
    private const int Block = 64 * 1024;
    private static readonly FuseContext Owner = Caller(1000, 1000);
    private readonly TestVolume _volume = new(new VolumeOptions { ChunkSize = Block });
    private readonly ManualResetEventSlim _stores = new(false);

    private int _held;
    private volatile bool _failing;

    public WriteBoundTests() =>
        // Every chunk store waits here: the sealed blocks stay in flight until the test lets them go. While _failing,
        // a store fails once let go (as a disk error would: the block's seal reports EIO).
        _volume.Chunks.Stored += (_, _, _) =>
        {
            Interlocked.Increment(ref _held);
            _stores.Wait(TimeSpan.FromSeconds(10));
            if (_failing) throw new IOException("injected failure of a chunk store");
        };

    [Fact]
    public async Task A_write_past_four_blocks_in_flight_returns_unanswered_at_once_and_is_answered_once_a_block_is_stored()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "f");
        var content = Bytes(5 * Block, 3);

        // Four full blocks: each is being stored (held at the gate), and each write is answered at once.
        for (var i = 0; i < 4; i++)
        {
            var written = _volume.Fs.WriteAsync(Owner, ino, fh, i * Block, content.AsMemory(i * Block, Block), 0);
            Assert.True(written.IsCompleted, $"write {i} waited with {i + 1} blocks in flight");
            Assert.Equal(Block, (await written).Value);
        }

        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _held) == 4, TimeSpan.FromSeconds(10)), $"{_held} of 4 stores reached the gate");

        // The fifth: its bytes are staged, and the call returns without an answer instead of holding this thread
        // until a store ends (it held it for up to the gate's 10 s before).
        var started = DateTime.UtcNow;
        var fifth = _volume.Fs.WriteAsync(Owner, ino, fh, 4 * Block, content.AsMemory(4 * Block, Block), 0);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "the write held its thread while blocks were being stored");
        Assert.False(fifth.IsCompleted);

        _stores.Set();
        var answer = await fifth.AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(Block, answer.Value);
        await _volume.CloseAsync(Owner, ino, fh);
        Assert.Equal(content, await _volume.ReadAsync(Owner, ino, await _volume.OpenAsync(Owner, ino), 0, 6 * Block));
    }

    [Fact]
    public async Task A_write_waiting_for_room_is_answered_when_the_blocks_in_flight_fail_and_the_file_recovers_once_stores_work()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "f");
        var content = Bytes(6 * Block, 5);
        for (var i = 0; i < 4; i++) Assert.Equal(Block, (await _volume.Fs.WriteAsync(Owner, ino, fh, i * Block, content.AsMemory(i * Block, Block), 0)).Value);
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _held) == 4, TimeSpan.FromSeconds(10)), $"{_held} of 4 stores reached the gate");
        var fifth = _volume.Fs.WriteAsync(Owner, ino, fh, 4 * Block, content.AsMemory(4 * Block, Block), 0);
        Assert.False(fifth.IsCompleted);

        // The stores fail: the waiting write is answered (its bytes were staged; the failure is the next call's answer),
        // it does not wait for room that failed blocks never give back.
        _failing = true;
        _stores.Set();
        var answer = await fifth.AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(Block, answer.Value);
        var next = await _volume.Fs.WriteAsync(Owner, ino, fh, 5 * Block, content.AsMemory(5 * Block, Block), 0);
        Assert.False(next.Ok, "a write after failed stores succeeded while the failed block was still not stored");

        // Stores work again: the failed blocks are stored first, the file takes the rest, and nothing that was answered
        // is missing.
        _failing = false;
        await _volume.WriteAsync(Owner, ino, fh, 5 * Block, content[(5 * Block)..]);
        await _volume.CloseAsync(Owner, ino, fh);
        Assert.Equal(content, await _volume.ReadAsync(Owner, ino, await _volume.OpenAsync(Owner, ino), 0, 7 * Block));
    }

    public void Dispose()
    {
        _stores.Set();
        _volume.Dispose();
    }
}
