using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Apply;

public class WriteTests
{
    private const ulong Root = FileSystemState.RootIno;

    private static (FileSystemState, ulong) NewFile() => (StateAssert.Fresh().Ok(File(Root, "f", time: 1), out ulong f), f);

    [Fact]
    public void Write_records_the_extent_grows_the_size_and_sets_times()
    {
        var (s, f) = NewFile();
        byte[] data = [1, 2, 3, 4];
        s = s.OkWith(Write(f, 10, data, time: 500), out var effect);
        var inode = s.Get(f);
        Assert.Equal(14L, inode.Size);
        Assert.Equal(new Metadata.Extent(10, 4, ChunkId.Of(data), 0), Assert.Single(inode.Extents));
        Assert.Equal((500L, 500L), (inode.MTime, inode.CTime));
        Assert.Equal([f], effect.ContentChanged);
    }

    [Fact]
    public void Write_inside_the_file_does_not_shrink_it()
    {
        var (s, f) = NewFile();
        s = s.Ok(Write(f, 0, new byte[100])).Ok(Write(f, 10, [7]));
        Assert.Equal(100L, s.Get(f).Size);
    }

    [Fact]
    public void Overlapping_write_splits_the_old_extent()
    {
        var (s, f) = NewFile();
        byte[] first = [.. Enumerable.Repeat((byte)1, 10)];
        byte[] second = [2, 2];
        s = s.Ok(Write(f, 0, first)).Ok(Write(f, 4, second));
        var extents = s.Get(f).Extents.ToArray();
        Assert.Equal(
            [new(0, 4, ChunkId.Of(first), 0), new(4, 2, ChunkId.Of(second), 0), new(6, 4, ChunkId.Of(first), 6)],
            extents);
        Assert.Equal(10L, s.Get(f).Extents.AllocatedBytes);
    }

    [Fact]
    public void Later_extents_of_one_write_win_where_they_overlap()
    {
        var (s, f) = NewFile();
        byte[] a = [1, 1, 1, 1];
        byte[] b = [2, 2];
        s = s.Ok(Write(f, 0, Extent(0, a), Extent(1, b)));
        Assert.Equal([new(0, 1, ChunkId.Of(a), 0), new(1, 2, ChunkId.Of(b), 0), new(3, 1, ChunkId.Of(a), 3)], s.Get(f).Extents.ToArray());
    }

    [Fact]
    public void Min_size_extends_the_file_past_the_last_extent()
    {
        var (s, f) = NewFile();
        var m = Write(f, 0, [1]);
        s = s.Ok(m with { Kind = ((WriteExtents)m.Kind) with { MinSize = 4096 } });
        Assert.Equal(4096L, s.Get(f).Size);
        Assert.Equal(1L, s.Get(f).Extents.AllocatedBytes);
    }

    [Fact]
    public void Explicit_mtime_is_kept()
    {
        var (s, f) = NewFile();
        var m = Write(f, 0, [1], time: 900);
        s = s.Ok(m with { Kind = ((WriteExtents)m.Kind) with { MTimeNs = 123_456_789 } });
        Assert.Equal((123_456_789L, 900L), (s.Get(f).MTime, s.Get(f).CTime));
    }

    [Fact]
    public void Negative_offsets_are_EINVAL()
    {
        var (s, f) = NewFile();
        s.Fails(Write(f, 1, Extent(0, [1, 2]) with { Offset = -1 }), FsError.Invalid);
        s.Fails(Write(f, 1, Extent(0, [1, 2]) with { ChunkOffset = -1 }), FsError.Invalid);
    }

    [Fact]
    public void Empty_extent_is_EINVAL()
    {
        var (s, f) = NewFile();
        s.Fails(Write(f, 1, Extent(0, [1]) with { Length = 0 }), FsError.Invalid);
        s.Fails(Write(f, 1, Extent(0, [1]) with { Length = -5 }), FsError.Invalid);
    }

    [Fact]
    public void One_bad_extent_refuses_the_whole_write()
    {
        var (s, f) = NewFile();
        var bad = Extent(10, [1]) with { Length = 0 };
        s.Fails(Write(f, 1, Extent(0, [1, 2, 3]), bad), FsError.Invalid);
    }

    [Fact]
    public void Write_past_16_TiB_is_EFBIG_and_up_to_it_is_allowed()
    {
        var (s, f) = NewFile();
        const long max = FileSystemState.MaxFileSize;
        s.Fails(Write(f, max, [1]), FsError.TooBig);
        s.Fails(Write(f, max - 1, [1, 2]), FsError.TooBig);
        var huge = Extent(0, [1]) with { Offset = long.MaxValue - 1 };  // offset + length must not wrap around
        s.Fails(Write(f, 1, huge), FsError.TooBig);
        var tooLong = Write(f, 0, [1]);
        s.Fails(tooLong with { Kind = ((WriteExtents)tooLong.Kind) with { MinSize = (ulong)max + 1 } }, FsError.TooBig);
        Assert.Equal(max, s.Ok(Write(f, max - 1, [1])).Get(f).Size);
    }

    [Fact]
    public void Write_to_a_directory_is_EISDIR_to_a_symlink_EINVAL_to_a_gone_inode_ESTALE()
    {
        var s = StateAssert.Fresh().Ok(Symlink(Root, "l", "x"), out ulong l);
        s.Fails(Write(Root, 0, [1]), FsError.IsADirectory);
        s.Fails(Write(l, 0, [1]), FsError.Invalid);
        s.Fails(Write(31337, 0, [1]), FsError.Stale);
    }

    // A peer's chunk offset must not let the read path index a chunk at a negative position.
    [Fact]
    public void Chunk_offset_that_does_not_fit_is_EINVAL()
    {
        var (s, f) = NewFile();
        var extent = Extent(0, [1, 2]);
        s.Fails(Write(f, 1, extent with { ChunkOffset = -1 }), FsError.Invalid);
        s.Fails(Write(f, 1, extent with { ChunkOffset = long.MaxValue }), FsError.Invalid);   // fits, but offset + length does not
    }

    [Fact]
    public void Holes_are_cut_before_the_extents_are_laid_and_keep_the_size()
    {
        var (s, f) = NewFile();
        byte[] data = [.. Enumerable.Repeat((byte)1, 100)];
        byte[] patch = [9, 9];
        s = s.Ok(Write(f, 0, data));
        var write = Write(f, 20, patch, time: 700);
        write = write with { Kind = ((WriteExtents)write.Kind) with { Holes = [new ByteRange(10, 30)] } };
        s = s.OkWith(write, out var effect);
        var inode = s.Get(f);
        Assert.Equal(
            [new(0, 10, ChunkId.Of(data), 0), new(20, 2, ChunkId.Of(patch), 0), new(40, 60, ChunkId.Of(data), 40)],
            inode.Extents.ToArray());
        Assert.Equal((100L, 72L), (inode.Size, inode.Extents.AllocatedBytes));
        Assert.Equal((700L, 700L), (inode.MTime, inode.CTime));
        Assert.Equal([f], effect.ContentChanged);
    }

    [Fact]
    public void A_hole_past_the_largest_file_size_is_EFBIG()
    {
        var (s, f) = NewFile();
        var write = Write(f, 0, [1]);
        write = write with { Kind = ((WriteExtents)write.Kind) with { Holes = [new ByteRange(FileSystemState.MaxFileSize, 2)] } };
        s.Fails(write, FsError.TooBig);
        s.Fails(write with { Kind = ((WriteExtents)write.Kind) with { Holes = [new ByteRange(-1, 2)] } }, FsError.Invalid);
    }

    [Fact]
    public void Chunks_losing_their_last_reference_are_reported_freed_and_shared_ones_are_not()
    {
        var (s, f) = NewFile();
        byte[] a = [1, 2, 3, 4], b = [5, 6];
        s = s.Ok(Write(f, 0, a)).Ok(Create(Root, Bytes("g"), Mutations.RegularFile), out ulong g).Ok(Write(g, 0, b));
        // The same chunk in two places of g: one reference goes, one stays.
        s = s.OkWith(Write(g, 100, b), out var added);
        Assert.Empty(added.AddedChunks);
        s = s.OkWith(Write(g, 0, a), out var overwrite);
        Assert.Empty(overwrite.FreedChunks);                                // b still referenced at 100
        s = s.OkWith(Write(f, 0, [7, 7, 7, 7]), out var replaced);
        Assert.Empty(replaced.FreedChunks);                                 // a still referenced by g
        Assert.Equal([ChunkId.Of([7, 7, 7, 7])], replaced.AddedChunks);
        s = s.OkWith(Truncate(g, 0), out var truncated);
        Assert.Equal(new[] { ChunkId.Of(a), ChunkId.Of(b) }.OrderBy(c => c.ToString()), truncated.FreedChunks.OrderBy(c => c.ToString()));
        Assert.Single(s.ChunkRefs);
        Assert.Equal(s.ChunkRefs, StateSnapshotCodec.Decode(StateSnapshotCodec.Encode(s)).ChunkRefs);
    }
}
