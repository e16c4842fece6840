using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// The compactor's periodic scan: a block left fragmented by writes this node never saw (another node's, which died
/// before its compactor merged them) is found and compacted with no write here and no restart; a block split by holes,
/// where the worker would merge nothing, is queued by no scan.
/// </summary>
public sealed class PeriodicScanTests : IDisposable
{
    private static readonly FuseContext Owner = Caller(1000, 1000);
    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(100);
    private readonly TestVolume _volume = new(new VolumeOptions { CompactionScanEvery = Every });

    [Fact]
    public async Task A_block_fragmented_by_another_nodes_writes_is_compacted_by_the_periodic_scan()
    {
        _volume.Fs.Mounted(new NoKernel());
        var ino = await _volume.WriteFileAsync(Owner, "theirs", Bytes(100, 0));
        // 31 more pieces of 100 B, committed by another node: nothing here queues them.
        var pieces = Enumerable.Range(1, 31).Select(i => new Extent(i * 100L, 100, default, 0, Bytes(100, (byte)i))).ToArray();
        _volume.Meta.ApplyRemote(new WriteExtents(ino, pieces));
        Assert.Equal(0, _volume.Fs.Compaction.Queued);

        // Well before the scan after the start (Compactor.ScanAfter, 3 s) could find it.
        var deadline = DateTime.UtcNow + (Compactor.ScanAfter / 2);
        while (_volume.Fs.Compaction.Compacted == 0 && DateTime.UtcNow < deadline) await Task.Delay(20, TestContext.Current.CancellationToken);

        var counts = _volume.Fs.Compaction;
        Assert.True(counts.Compacted > 0, $"nothing compacted within {(Compactor.ScanAfter / 2).TotalSeconds} s: {counts}");
        Assert.Equal(0, counts.FoundAtStart);
        Assert.True(counts.FoundPeriodically > 0, counts.ToString());
        Assert.True(_volume.Meta.Current.Find(ino)!.Extents.Count < 32, $"{_volume.Meta.Current.Find(ino)!.Extents.Count} extents");
        var expected = Enumerable.Range(0, 32).SelectMany(i => Bytes(100, (byte)i)).ToArray();
        var fh = await _volume.OpenAsync(Owner, ino);
        Assert.Equal(expected, await _volume.ReadAsync(Owner, ino, fh, 0, 3200));
    }

    [Fact]
    public async Task A_block_whose_pieces_are_all_split_by_holes_is_queued_by_no_scan()
    {
        var ct = TestContext.Current.CancellationToken;
        _volume.Fs.Mounted(new NoKernel());
        var sparse = await _volume.WriteFileAsync(Owner, "sparse", Bytes(100, 0));
        // 31 more pieces of 100 B from another node, each after a hole of 100 B: 32 extents in block 0, no two
        // neighbours, so nothing the compactor would merge (holes are never filled).
        var pieces = Enumerable.Range(1, 31).Select(i => new Extent(i * 200L, 100, default, 0, Bytes(100, (byte)i))).ToArray();
        _volume.Meta.ApplyRemote(new WriteExtents(sparse, pieces));

        // Past the scan after the start (Compactor.ScanAfter) and some thirty periodic passes.
        await Task.Delay(Compactor.ScanAfter + TimeSpan.FromSeconds(1), ct);
        var counts = _volume.Fs.Compaction;
        Assert.Equal(0, counts.FoundAtStart);
        Assert.Equal(0, counts.FoundPeriodically);
        Assert.Equal(0, counts.Queued);
        Assert.Equal(32, _volume.Meta.Current.Find(sparse)!.Extents.Count);

        // The scans do run: a file whose pieces are neighbours is found by the next periodic pass and compacted.
        var dense = await _volume.WriteFileAsync(Owner, "dense", Bytes(100, 0));
        _volume.Meta.ApplyRemote(new WriteExtents(dense, [.. Enumerable.Range(1, 31).Select(i => new Extent(i * 100L, 100, default, 0, Bytes(100, (byte)i)))]));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (_volume.Fs.Compaction.Compacted == 0 && DateTime.UtcNow < deadline) await Task.Delay(20, ct);
        Assert.True(_volume.Fs.Compaction.FoundPeriodically > 0, _volume.Fs.Compaction.ToString());
        Assert.True(_volume.Meta.Current.Find(dense)!.Extents.Count < 32, _volume.Fs.Compaction.ToString());
        Assert.Equal(32, _volume.Meta.Current.Find(sparse)!.Extents.Count);
    }

    public void Dispose()
    {
        _volume.Fs.Unmounted();
        _volume.Dispose();
    }

    private sealed class NoKernel : IFuseNotifier
    {
        public int InvalidateInode(ulong ino, long offset, long length) => 0;
        public int InvalidateEntry(ulong parent, ReadOnlySpan<byte> name) => 0;
        public int Delete(ulong parent, ulong child, ReadOnlySpan<byte> name) => 0;
    }
}
