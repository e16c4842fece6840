using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume.Tests;

// What the scan after a start finds (FragmentedBlocks.Of) and which member compacts a file first (FirstFor).
public class FragmentedBlocksTests
{
    private const long Block = 1 << 20;

    private static Inode File(long size, IEnumerable<Extent> extents) =>
        new() { Ino = 7, Mode = FileMode.Regular | 0x1A4, NLink = 1, Size = size, Extents = ExtentMap.FromSorted(extents) };

    private static IEnumerable<Extent> Pieces(long start, long length, int count)
    {
        for (var i = 0; i < count; i++) yield return new Extent(start + (i * length), length, ChunkId.Of(BitConverter.GetBytes(start + (i * length))), 0);
    }

    private static List<(long Block, bool Filled)> Found(Inode inode, int threshold = 16)
    {
        var found = new List<(long, bool)>();
        FragmentedBlocks.Of(inode, Block, threshold, found);
        return found;
    }

    [Fact]
    public void Blocks_at_the_threshold_are_found_and_those_below_the_size_count_as_filled()
    {
        // Block 0: 128 x 8 KiB (full), block 1: 15 pieces, block 2: 16 pieces (the tail).
        var extents = Pieces(0, 8192, 128).Concat(Pieces(Block, 8192, 15)).Concat(Pieces(2 * Block, 4096, 16)).ToList();
        var inode = File(2 * Block + (16 * 4096), extents);

        Assert.Equal([(0L, true), (2L, false)], Found(inode));
    }

    [Fact]
    public void An_extent_over_a_block_boundary_counts_in_both_blocks_and_the_ones_between_hold_it_alone()
    {
        // 15 pieces at the end of block 0, one extent from there over blocks 1-3 into block 4, then 15 pieces in block 4.
        var before = Pieces(Block - (15 * 4096), 4096, 15).ToList();
        var spanning = new Extent(Block, (3 * Block) + 4096, ChunkId.Of([9]), 0);
        var after = Pieces((4 * Block) + 4096, 4096, 15).ToList();
        var inode = File(5 * Block, [.. before, spanning, .. after]);

        Assert.Equal(16, inode.Extents.CountTouching(4 * Block, 5 * Block));
        Assert.Equal([(4L, true)], Found(inode));
        Assert.Empty(Found(inode, threshold: 17));
    }

    [Fact]
    public void A_file_with_fewer_extents_than_the_threshold_is_not_looked_into()
    {
        Assert.Empty(Found(File(15 * 100, Pieces(0, 100, 15))));
    }

    [Fact]
    public void A_file_changed_less_than_the_quiet_time_ago_or_ahead_of_the_clock_is_not_quiet()
    {
        var inode = File(100, Pieces(0, 100, 1)) with { CTime = 10_000_000_000 };
        var quiet = TimeSpan.FromSeconds(2);

        Assert.True(FragmentedBlocks.QuietFor(inode, 12_000_000_000, quiet));
        Assert.False(FragmentedBlocks.QuietFor(inode, 11_999_999_999, quiet));
        Assert.False(FragmentedBlocks.QuietFor(inode, 9_000_000_000, quiet));
    }

    [Fact]
    public void Exactly_one_member_is_first_for_each_file()
    {
        var members = Enumerable.Range(1, 3).Select(i => new PeerId(new string((char)('a' + i), 64))).ToArray();
        var state = FileSystemState.Genesis(1, members[0]);
        foreach (var m in members.Skip(1)) state = state.Apply(new Mutation { Kind = new AdmitMember(m, "127.0.0.1:1"), TimeNs = 2 }).State;
        var firsts = new int[members.Length];

        for (ulong ino = 2; ino < 302; ino++)
        {
            var first = members.Where(m => FragmentedBlocks.FirstFor(state, m, ino)).ToArray();
            Assert.Single(first);
            firsts[Array.IndexOf(members, first[0])]++;
        }

        // Spread over all three (a fixed mix: 300 files give each member a share).
        Assert.All(firsts, n => Assert.InRange(n, 60, 140));
    }
}
