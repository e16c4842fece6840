using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// Writes are staged in memory and read back by their writer before anything is committed; flush turns what is staged
/// into one range-based mutation; truncate throws staged bytes away instead of committing them first.
/// </summary>
public sealed class WriteStagingTests : IDisposable
{
    private static readonly FuseContext Owner = Caller(1000, 1000);
    private readonly TestVolume _volume = new();

    [Fact]
    public async Task A_write_is_read_back_before_any_flush_and_nothing_is_committed_for_it()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "f");
        var data = Bytes(10_000, 1);

        await _volume.WriteAsync(Owner, ino, fh, 0, data);

        Assert.Equal(data, await _volume.ReadAsync(Owner, ino, fh, 0, 20_000));
        Assert.Equal(10_000UL, (await _volume.GetAttrAsync(ino)).Value.Attributes.Size);
        Assert.Empty(_volume.Meta.CommittedOf<WriteExtents>());
        Assert.Equal(0, _volume.Meta.Current.Find(ino)!.Size);
    }

    [Fact]
    public async Task Overlapping_unaligned_writes_read_back_merged_before_any_flush()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "f");
        var expected = Bytes(9_000, 1);
        var patch = Bytes(2_501, 90);
        var tail = Bytes(777, 200);

        await _volume.WriteAsync(Owner, ino, fh, 0, expected);
        await _volume.WriteAsync(Owner, ino, fh, 3_333, patch);
        await _volume.WriteAsync(Owner, ino, fh, 12_000, tail);

        var whole = new byte[12_777];
        expected.CopyTo(whole, 0);
        patch.CopyTo(whole, 3_333);
        tail.CopyTo(whole, 12_000);
        Assert.Equal(whole, await _volume.ReadAsync(Owner, ino, fh, 0, 64 * 1024));
        // A read inside the staged range, at an odd offset, sees the same bytes.
        Assert.Equal(whole.AsSpan(3_000, 1_000).ToArray(), await _volume.ReadAsync(Owner, ino, fh, 3_000, 1_000));
        Assert.Empty(_volume.Meta.CommittedOf<WriteExtents>());
    }

    [Fact]
    public async Task Flush_commits_the_staged_writes_as_one_WriteExtents_and_a_second_flush_commits_nothing()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "f");
        await _volume.WriteAsync(Owner, ino, fh, 0, Bytes(4_096, 1));
        await _volume.WriteAsync(Owner, ino, fh, 100_000, Bytes(100, 2));
        await _volume.WriteAsync(Owner, ino, fh, 50_000, Bytes(3_000, 3));
        var before = _volume.Meta.Committed.Count;

        Assert.Equal(0, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));

        var write = Assert.Single(_volume.Meta.CommittedOf<WriteExtents>());
        Assert.Equal(before + 1, _volume.Meta.Committed.Count);
        Assert.Equal(ino, write.Ino);
        Assert.Equal(100_100, _volume.Meta.Current.Find(ino)!.Size);
        Assert.Equal(0, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));
        Assert.Single(_volume.Meta.CommittedOf<WriteExtents>());
    }

    [Fact]
    public async Task What_a_flush_committed_reads_the_same_from_a_fresh_handle_after_release()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "f");
        var data = Bytes(70_000, 5);
        await _volume.WriteAsync(Owner, ino, fh, 0, data);
        await _volume.CloseAsync(Owner, ino, fh);

        var again = await _volume.OpenAsync(Owner, ino);

        Assert.Equal(data, await _volume.ReadAsync(Owner, ino, again, 0, 100_000));
        Assert.Equal(70_000, _volume.Meta.Current.Find(ino)!.Size);
    }

    [Fact]
    public async Task Staged_bytes_over_committed_ones_read_merged_and_commit_only_the_change()
    {
        var ino = await _volume.WriteFileAsync(Owner, "f", Bytes(20_000, 1));
        var fh = await _volume.OpenAsync(Owner, ino);
        var patch = Bytes(10, 77);

        await _volume.WriteAsync(Owner, ino, fh, 12_345, patch);

        var expected = Bytes(20_000, 1);
        patch.CopyTo(expected, 12_345);
        Assert.Equal(expected, await _volume.ReadAsync(Owner, ino, fh, 0, 20_000));
        Assert.Equal(0, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));
        var last = _volume.Meta.CommittedOf<WriteExtents>()[^1];
        Assert.Equal(10, last.Extents.Sum(e => e.Length));
        Assert.Equal(expected, await _volume.ReadAsync(Owner, ino, fh, 0, 20_000));
    }

    [Fact]
    public async Task Truncate_discards_staged_bytes_past_the_new_size_instead_of_committing_them()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "f");
        var data = Bytes(8_000, 9);
        await _volume.WriteAsync(Owner, ino, fh, 0, data);

        var cut = await _volume.Fs.SetAttrAsync(Owner, ino, new SetAttrRequest(SetAttrValid.Size, 0, 0, 0, 1_000, 0, 0, 0, 0, 0, 0, fh));
        Assert.True(cut.Ok, $"truncate: errno {cut.Errno}");

        Assert.Equal(1_000UL, cut.Value.Attributes.Size);
        Assert.Equal(data[..1_000], await _volume.ReadAsync(Owner, ino, fh, 0, 8_000));
        // Nothing committed reaches past the cut, and growing the file again shows zeros, not the discarded bytes.
        Assert.All(_volume.Meta.CommittedOf<WriteExtents>(), w => Assert.All(w.Extents, e => Assert.True(e.End <= 1_000, $"extent to {e.End} committed")));
        var grown = await _volume.Fs.SetAttrAsync(Owner, ino, new SetAttrRequest(SetAttrValid.Size, 0, 0, 0, 8_000, 0, 0, 0, 0, 0, 0, fh));
        Assert.True(grown.Ok);
        var read = await _volume.ReadAsync(Owner, ino, fh, 0, 8_000);
        Assert.Equal(data[..1_000], read[..1_000]);
        Assert.All(read[1_000..], b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Open_with_O_TRUNC_drops_staged_writes_of_another_handle()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "f");
        await _volume.WriteAsync(Owner, ino, fh, 0, Bytes(5_000, 3));

        var truncating = await _volume.OpenAsync(Owner, ino, ORdWr | OTrunc);

        Assert.Equal(0UL, (await _volume.GetAttrAsync(ino)).Value.Attributes.Size);
        Assert.Empty(await _volume.ReadAsync(Owner, ino, truncating, 0, 5_000));
        Assert.Equal(0, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));
        Assert.Equal(0, _volume.Meta.Current.Find(ino)!.Size);
    }

    public void Dispose() => _volume.Dispose();
}
