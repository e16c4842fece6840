namespace DinoMesh.Volume.Tests;

/// <summary>The default free space the compactor leaves to users' writes: max(64 MiB, 1 % of the filesystem), at most 1 GiB.</summary>
public sealed class CompactionReserveTests
{
    private const long MiB = 1L << 20, GiB = 1L << 30;

    [Theory]
    [InlineData(2 * MiB, 64 * MiB)]          // a disk smaller than the floor: nothing merged into a chunk is stored on it
    [InlineData(4 * GiB, 64 * MiB)]          // 1 % is 41 MiB: the floor
    [InlineData(20 * GiB, 20 * GiB / 100)]   // 1 % is 205 MiB
    [InlineData(10 * 1024 * GiB, GiB)]       // 1 % is 102 GiB: the cap
    public void The_default_is_the_larger_of_64_MiB_and_1_percent_at_most_1_GiB(long total, long reserve) =>
        Assert.Equal(reserve, CompactionReserve.For(total));

    [Theory]
    [InlineData(100, 30, 70, true)]
    [InlineData(100, 31, 70, false)]
    [InlineData(10, 20, 0, false)]           // a chunk larger than the free space never fits, even with no reserve
    public void A_chunk_is_stored_only_if_it_leaves_the_reserve_free(long free, long bytes, long reserve, bool leaves) =>
        Assert.Equal(leaves, CompactionReserve.Leaves(free, bytes, reserve));
}
