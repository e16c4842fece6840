using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Core.Tests.Extents;

public class ExtentMapTests
{
    private static readonly ChunkId A = ChunkId.Of("A"u8);
    private static readonly ChunkId B = ChunkId.Of("B"u8);
    private static readonly ChunkId C = ChunkId.Of("C"u8);
    private static readonly ChunkId N = ChunkId.Of("new"u8);

    private static Extent E(long offset, long length, ChunkId chunk, long chunkOffset = 0) => new(offset, length, chunk, chunkOffset);

    /// <summary>[0,10) from A, [20,30) from B, [30,40) from C: a hole at 10..20, two touching extents.</summary>
    private static ExtentMap Three() => ExtentMap.Empty.Write(E(0, 10, A)).Write(E(20, 10, B)).Write(E(30, 10, C));

    [Fact]
    public void Empty_map_has_nothing()
    {
        Assert.Equal(0, ExtentMap.Empty.Count);
        Assert.Equal(0L, ExtentMap.Empty.AllocatedBytes);
        Assert.Empty(ExtentMap.Empty.Overlapping(0, long.MaxValue));
        Assert.Equal(-1L, ExtentMap.Empty.NextData(0));
        Assert.Equal(0L, ExtentMap.Empty.NextHole(0, 100));
    }

    [Fact]
    public void CountTouching_counts_what_Touching_gives_for_every_range()
    {
        // Holes, touching extents, ranges that start or end inside an extent, and empty or reversed ranges.
        var m = Three().Write(E(45, 5, A)).Write(E(50, 1, B));
        for (long from = -2; from < 55; from++)
        {
            for (long to = from - 1; to < 56; to++)
            {
                Assert.Equal(m.Touching(from, to).Count(), m.CountTouching(from, to));
            }
        }
        Assert.Equal(0, ExtentMap.Empty.CountTouching(0, 100));
    }

    [Fact]
    public void Writes_in_any_order_are_kept_sorted()
    {
        var m = ExtentMap.Empty.Write(E(30, 10, C)).Write(E(0, 10, A)).Write(E(20, 10, B));
        Assert.Equal(Three().ToArray(), m.ToArray());
        Assert.Equal(30L, m.AllocatedBytes);
    }

    [Fact]
    public void Write_inside_an_extent_splits_it_in_three_with_the_right_chunk_offsets()
    {
        var m = ExtentMap.Empty.Write(E(0, 10, A, 100)).Write(E(3, 4, N));
        Assert.Equal([E(0, 3, A, 100), E(3, 4, N), E(7, 3, A, 107)], m.ToArray());
        Assert.Equal(10L, m.AllocatedBytes);
    }

    [Fact]
    public void Write_spanning_several_extents_clips_the_ends_and_drops_the_middle()
    {
        var m = Three().Write(E(5, 30, N));
        Assert.Equal([E(0, 5, A), E(5, 30, N), E(35, 5, C, 5)], m.ToArray());
        Assert.Equal(40L, m.AllocatedBytes);
    }

    [Fact]
    public void Write_touching_edges_leaves_the_neighbours_whole()
    {
        var m = Three().Write(E(10, 10, N));                            // exactly fills the hole
        Assert.Equal([E(0, 10, A), E(10, 10, N), E(20, 10, B), E(30, 10, C)], m.ToArray());
        Assert.Equal(40L, m.AllocatedBytes);
        var after = Three().Write(E(40, 5, N));                         // right after the last one
        Assert.Equal(E(30, 10, C), after.ToArray()[2]);
        Assert.Equal(35L, after.AllocatedBytes);
    }

    [Fact]
    public void Write_exactly_over_an_extent_replaces_it()
    {
        var m = Three().Write(E(20, 10, N));
        Assert.Equal([E(0, 10, A), E(20, 10, N), E(30, 10, C)], m.ToArray());
    }

    [Fact]
    public void Write_over_a_prefix_or_suffix_cuts_one_side()
    {
        Assert.Equal([E(0, 10, A), E(18, 4, N), E(22, 8, B, 2), E(30, 10, C)], Three().Write(E(18, 4, N)).ToArray());
        Assert.Equal([E(0, 8, A), E(8, 4, N), E(20, 10, B), E(30, 10, C)], Three().Write(E(8, 4, N)).ToArray());
    }

    [Fact]
    public void Write_over_everything_leaves_one_extent()
    {
        var m = Three().Write(E(0, 100, N));
        Assert.Equal([E(0, 100, N)], m.ToArray());
        Assert.Equal(100L, m.AllocatedBytes);
    }

    [Fact]
    public void Empty_write_returns_the_same_map()
    {
        var m = Three();
        Assert.Same(m, m.Write(E(5, 0, N)));
    }

    [Fact]
    public void Write_leaves_the_old_map_as_it_was()
    {
        var m = Three();
        _ = m.Write(E(0, 100, N));
        Assert.Equal(Three().ToArray(), m.ToArray());
        Assert.Equal(30L, m.AllocatedBytes);
    }

    [Fact]
    public void Truncate_inside_an_extent_clips_it_and_drops_the_rest()
    {
        var m = Three().Truncate(25);
        Assert.Equal([E(0, 10, A), E(20, 5, B)], m.ToArray());
        Assert.Equal(15L, m.AllocatedBytes);
    }

    [Fact]
    public void Truncate_at_a_boundary_or_in_a_hole_drops_whole_extents()
    {
        Assert.Equal([E(0, 10, A), E(20, 10, B)], Three().Truncate(30).ToArray());
        Assert.Equal([E(0, 10, A)], Three().Truncate(15).ToArray());
        Assert.Equal([E(0, 10, A)], Three().Truncate(10).ToArray());
        Assert.Equal(0, Three().Truncate(0).Count);
        Assert.Equal(0L, Three().Truncate(0).AllocatedBytes);
    }

    [Fact]
    public void Truncate_past_the_end_returns_the_same_map()
    {
        var m = Three();
        Assert.Same(m, m.Truncate(40));
        Assert.Same(m, m.Truncate(1000));
    }

    [Fact]
    public void Overlapping_clips_to_the_range_and_skips_holes()
    {
        Assert.Equal([E(5, 5, A, 5), E(20, 10, B), E(30, 2, C)], Three().Overlapping(5, 32).ToArray());
        Assert.Empty(Three().Overlapping(10, 20));
        Assert.Empty(Three().Overlapping(40, 50));
        Assert.Equal([E(22, 3, B, 2)], Three().Overlapping(22, 25).ToArray());
        Assert.Equal([E(29, 1, B, 9), E(30, 1, C)], Three().Overlapping(29, 31).ToArray());
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(7, 7)]
    [InlineData(10, 20)]
    [InlineData(15, 20)]
    [InlineData(35, 35)]
    [InlineData(40, -1)]
    [InlineData(1000, -1)]
    public void NextData_finds_the_first_data_at_or_after(long offset, long expected) =>
        Assert.Equal(expected, Three().NextData(offset));

    [Theory]
    [InlineData(0, 10)]
    [InlineData(9, 10)]
    [InlineData(10, 10)]
    [InlineData(15, 15)]
    [InlineData(20, 40)]                                                // touching extents are one run of data
    [InlineData(33, 40)]
    [InlineData(40, 40)]
    [InlineData(45, 45)]
    public void NextHole_finds_the_first_hole_at_or_after(long offset, long expected) =>
        Assert.Equal(expected, Three().NextHole(offset, size: 50));

    [Fact]
    public void NextHole_counts_the_end_of_the_file_as_a_hole()
    {
        Assert.Equal(40L, Three().NextHole(25, size: 40));
        Assert.Equal(8L, ExtentMap.Empty.Write(E(0, 8, A)).NextHole(0, size: 8));
    }

    [Fact]
    public void FromSorted_counts_allocated_bytes()
    {
        var m = ExtentMap.FromSorted([E(0, 3, A), E(10, 4, B)]);
        Assert.Equal(7L, m.AllocatedBytes);
        Assert.Equal(2, m.Count);
    }

    [Fact]
    public void Punch_cuts_a_hole_through_several_extents_and_frees_their_bytes()
    {
        var m = Three().Punch(5, 35);
        Assert.Equal([E(0, 5, A), E(35, 5, C, 5)], m.ToArray());
        Assert.Equal(10L, m.AllocatedBytes);
        Assert.Equal(5L, m.NextHole(0, 40));
        Assert.Equal(35L, m.NextData(5));
    }

    [Fact]
    public void Punch_inside_an_extent_splits_it_and_punching_a_hole_changes_nothing()
    {
        var m = ExtentMap.Empty.Write(E(0, 10, A, 100)).Punch(3, 7);
        Assert.Equal([E(0, 3, A, 100), E(7, 3, A, 107)], m.ToArray());
        Assert.Equal(6L, m.AllocatedBytes);
        Assert.Same(m, m.Punch(4, 6));
        Assert.Same(m, m.Punch(50, 60));
        Assert.Same(m, m.Punch(5, 5));
    }
}
