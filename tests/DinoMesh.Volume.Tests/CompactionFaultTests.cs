using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A compaction whose commit is refused (a partition's ETIMEDOUT, a full log's ENOSPC) gives the run up: the file keeps
/// every byte in its old extents, the chunk it stored is no longer held back from garbage collection, the volume goes on
/// writing, and once commits pass again the next scan compacts the block.
/// </summary>
public sealed class CompactionFaultTests : IDisposable
{
    private static readonly FuseContext Owner = Caller(1000, 1000);
    private const int Pieces = 32, PieceBytes = 1024;
    // A refusal with ENOSPC pauses the compactor (CompactionNoSpacePause): short here, so it retries within the test.
    private readonly TestVolume _volume = new(new VolumeOptions
    {
        CompactionScanEvery = TimeSpan.FromMilliseconds(100),
        CompactionNoSpacePause = TimeSpan.FromMilliseconds(100),
    });

    [Theory]
    [InlineData(FsError.TimedOut)]
    [InlineData(FsError.NoSpace)]
    public async Task A_refused_compaction_loses_no_byte_holds_no_chunk_and_is_done_once_commits_pass(FsError refusal)
    {
        var ct = TestContext.Current.CancellationToken;
        var refused = 0;
        _volume.Meta.Refuse = kind =>
        {
            if (kind is not CompactExtents) return null;
            Interlocked.Increment(ref refused);
            return refusal;
        };
        _volume.Fs.Mounted(new NoKernel());
        var ino = await _volume.WriteFileAsync(Owner, "pieces", Bytes(PieceBytes, 0));
        // Pieces another node committed (inline, 1 KiB each): 32 KiB together, so a compaction stores a chunk.
        var pieces = Enumerable.Range(1, Pieces - 1).Select(i => new Extent(i * (long)PieceBytes, PieceBytes, default, 0, Bytes(PieceBytes, (byte)i))).ToArray();
        _volume.Meta.ApplyRemote(new WriteExtents(ino, pieces));
        var expected = Enumerable.Range(0, Pieces).SelectMany(i => Bytes(PieceBytes, (byte)i)).ToArray();

        await Until(() => Volatile.Read(ref refused) >= 2, "two refused compactions", ct);
        Assert.Equal(Pieces, _volume.Meta.Current.Find(ino)!.Extents.Count);
        Assert.Equal(expected, await ReadAllAsync(ino));
        // The refused runs' chunks are not staged any more: garbage collection may take them.
        await Until(() => !_volume.Fs.StagedChunks().Except(Referenced()).Any(), "no chunk of a refused compaction held back", ct);
        // The volume still writes.
        Assert.Equal(Bytes(100, 7), await ReadAllAsync(await _volume.WriteFileAsync(Owner, "after", Bytes(100, 7))));

        _volume.Meta.Refuse = null;
        await Until(() => _volume.Meta.Current.Find(ino)!.Extents.Count < Pieces, "the block compacted once commits pass", ct);
        Assert.Equal(expected, await ReadAllAsync(ino));
    }

    private HashSet<ChunkId> Referenced() => [.. _volume.Meta.Current.ChunkRefs.Keys];

    private async Task<byte[]> ReadAllAsync(ulong ino)
    {
        var fh = await _volume.OpenAsync(Owner, ino);
        return await _volume.ReadAsync(Owner, ino, fh, 0, Pieces * PieceBytes);
    }

    public void Dispose()
    {
        _volume.Fs.Unmounted();
        _volume.Dispose();
    }
}
