using DinoMesh.Core.Chunks;

namespace DinoMesh.Core.Tests.Chunks;

/// <summary>
/// The chunk disk as statfs and fallocate count it: the cache's evictable bytes are free space, never more than the
/// disk holds; fallocate asks the cache only for what the disk lacks, and not at all when even the whole count would
/// not do.
/// </summary>
public class ChunkDiskSpaceTests
{
    [Fact]
    public void The_caches_evictable_bytes_count_as_available()
    {
        var space = new ChunkDiskSpace(Total: 40_000, Free: 1_000, Evictable: 30_000);

        Assert.Equal(31_000, space.Available);
        Assert.Equal(30_000, space.EvictableCounted);
    }

    [Fact]
    public void An_old_count_larger_than_what_the_disk_holds_is_capped_so_available_never_exceeds_the_disks_size()
    {
        // Counted before an eviction freed much of it: the disk's free space already has those bytes.
        var space = new ChunkDiskSpace(Total: 40_000, Free: 25_000, Evictable: 30_000);

        Assert.Equal(15_000, space.EvictableCounted);
        Assert.Equal(40_000, space.Available);
    }

    [Theory]
    [InlineData(-5, 10_000)]
    [InlineData(0, 10_000)]
    public void No_count_or_a_negative_one_adds_nothing(long evictable, long free)
    {
        var space = new ChunkDiskSpace(Total: 40_000, Free: free, Evictable: evictable);

        Assert.Equal(free, space.Available);
    }

    [Fact]
    public void A_disk_that_reports_more_free_than_its_size_counts_no_evictable_bytes()
    {
        var space = new ChunkDiskSpace(Total: 1_000, Free: 2_000, Evictable: 500);

        Assert.Equal(0, space.EvictableCounted);
        Assert.Equal(2_000, space.Available);
    }

    [Theory]
    [InlineData(1_000, RoomFor.Fits, 0)]
    [InlineData(1_001, RoomFor.AfterEviction, 1)]
    [InlineData(31_000, RoomFor.AfterEviction, 30_000)]
    [InlineData(31_001, RoomFor.None, 30_001)]
    public void Fallocate_fits_now_after_the_shortfall_is_evicted_or_not_at_all(long bytes, RoomFor expected, long shortfall)
    {
        var space = new ChunkDiskSpace(Total: 40_000, Free: 1_000, Evictable: 30_000);

        Assert.Equal(expected, space.RoomFor(bytes));
        Assert.Equal(shortfall, space.Shortfall(bytes));
    }
}
