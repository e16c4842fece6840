using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume.Tests;

// Which extents of a block the compactor merges (Compactor.Choose, Compactor.Whole).
public class CompactionPolicyTests
{
    private const long Block = 1 << 20;

    /// <summary>Extents laid end to end from <paramref name="start"/>, of the given lengths, each its own chunk.</summary>
    private static List<Extent> Run(long start, params long[] lengths)
    {
        var extents = new List<Extent>();
        foreach (var length in lengths)
        {
            extents.Add(new Extent(start, length, ChunkId.Of(BitConverter.GetBytes(start)), 0));
            start += length;
        }
        return extents;
    }

    private static long[] Repeat(long length, int count) => [.. Enumerable.Repeat(length, count)];

    [Fact]
    public void Sixteen_equal_appends_are_merged_whole()
    {
        var extents = Run(0, Repeat(8192, 16));
        Assert.Equal(extents, Compactor.Choose(extents, 0, Block, 16));
    }

    [Fact]
    public void A_merged_older_extent_larger_than_the_new_ones_together_is_left_alone()
    {
        // 128 KiB merged before, then 15 appends of 8 KiB (120 KiB): rewriting the 128 KiB again would not pay.
        var extents = Run(0, [131072, .. Repeat(8192, 15)]);
        Assert.Equal(extents.Skip(1), Compactor.Choose(extents, 0, Block, 16));
    }

    [Fact]
    public void At_least_half_the_threshold_is_merged_even_behind_a_large_extent()
    {
        // The trailing half is merged whatever their sizes, so a block over the threshold always drops below it.
        var extents = Run(0, [.. Repeat(65536, 8), .. Repeat(4096, 8)]);
        var chosen = Compactor.Choose(extents, 0, Block, 16)!;
        Assert.Equal(extents.Skip(8), chosen);
    }

    [Fact]
    public void Only_extents_wholly_in_the_block_and_without_a_hole_between_them_form_a_run()
    {
        // One extent reaching in from the block before, a run of 3, a hole, a run of 4, then one reaching into the next
        // block: the longer run inside is taken, and nothing that reaches outside the block.
        var straddling = new Extent(-4096, 8192, ChunkId.Of([1]), 0);
        var three = Run(4096, 100, 100, 100);
        var four = Run(10_000, 100, 100, 100, 100);
        var outward = new Extent(Block - 50, 100, ChunkId.Of([2]), 0);
        List<Extent> extents = [straddling, .. three, .. four, outward];
        Assert.Equal(four, Compactor.Choose(extents, 0, Block, 16));
        Assert.Null(Compactor.Choose([straddling, three[0], outward], 0, Block, 16));
    }

    [Fact]
    public void A_block_is_whole_only_when_its_extents_cover_it_exactly()
    {
        Assert.True(Compactor.Whole(Run(0, Repeat(Block / 4, 4)), 0, Block));
        Assert.False(Compactor.Whole(Run(0, Block), 0, Block));                             // already one extent
        Assert.False(Compactor.Whole(Run(0, Block / 2, Block / 2 - 1), 0, Block));          // a hole at the end
        Assert.False(Compactor.Whole(Run(1, Block / 2, Block / 2 - 1), 0, Block));          // a hole at the start
        Assert.False(Compactor.Whole(Run(0, Block / 2, Block / 2 + 1), 0, Block));          // reaches into the next block
    }

    // Compactor.Decide: what one look does. Threshold 16, so a busy file's bound is 256 extents.

    [Fact]
    public void A_busy_file_under_its_bound_is_looked_at_later_when_filled_or_over_the_threshold()
    {
        Assert.Equal(LookKind.Later, Compactor.Decide(Run(0, Repeat(8192, 20)), 0, Block, filled: false, busy: true, 16).Kind);
        Assert.Equal(LookKind.Later, Compactor.Decide(Run(0, Repeat(Block / 2, 2)), 0, Block, filled: true, busy: true, 16).Kind);
        Assert.Equal(LookKind.None, Compactor.Decide(Run(0, Repeat(8192, 3)), 0, Block, filled: false, busy: true, 16).Kind);
    }

    [Fact]
    public void A_quiet_filled_block_its_extents_cover_becomes_one_chunk_and_one_with_a_hole_does_not()
    {
        Assert.Equal(LookKind.Whole, Compactor.Decide(Run(0, Repeat(Block / 4, 4)), 0, Block, filled: true, busy: false, 16).Kind);
        Assert.Equal(LookKind.None, Compactor.Decide(Run(4096, Repeat(Block / 4, 3)), 0, Block, filled: true, busy: false, 16).Kind);
    }

    [Fact]
    public void A_busy_filled_block_over_the_bound_merges_a_run_and_its_fill_waits_for_the_file_to_be_quiet()
    {
        // A slow 8 KiB appender on a 4 MiB block (the worker folds the filling write's look into the one queued at the
        // bound): the run merged now leaves the block in two extents, so the fill is queued again, and once the file
        // is quiet the block is whole.
        var busyLook = Compactor.Decide(Run(0, [2 * Block, .. Repeat(8192, 256)]), 0, 4 * Block, filled: true, busy: true, 16);
        Assert.Equal(new BlockLook(LookKind.Run, 256, FillWaits: true), busyLook);
        Assert.Equal(LookKind.Whole, Compactor.Decide(Run(0, 2 * Block, 2 * Block), 0, 4 * Block, filled: true, busy: false, 16).Kind);

        // Not filled, or quiet: nothing waits.
        Assert.False(Compactor.Decide(Run(0, Repeat(8192, 256)), 0, 4 * Block, filled: false, busy: true, 16).FillWaits);
        Assert.Equal(new BlockLook(LookKind.Run, 16), Compactor.Decide(Run(4096, Repeat(8192, 20)), 0, Block, filled: true, busy: false, 16));
    }
}
