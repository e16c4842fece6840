using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume.Tests;

// What the scan after a start finds (FragmentedBlocks.Of) and which member takes a file in each scan (Takes).
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
    public void A_block_whose_extents_are_all_split_by_holes_is_not_found_as_the_worker_would_merge_nothing_there()
    {
        // 20 pieces of 4 KiB with a 4 KiB hole after each: 20 extents in block 0, no two of them neighbours.
        var sparse = Enumerable.Range(0, 20).Select(i => new Extent(i * 8192L, 4096, ChunkId.Of(BitConverter.GetBytes(i)), 0)).ToList();
        Assert.Empty(Found(File(20 * 8192, sparse)));
        Assert.Null(Compactor.Choose(sparse, 0, Block, 16));

        // One hole closed: a run of two, which the worker merges, so the block is found.
        var closed = sparse.Select((e, i) => i == 1 ? e with { Offset = 4096 } : e).ToList();
        Assert.NotNull(Compactor.Choose(closed, 0, Block, 16));
        Assert.Equal([(0L, false)], Found(File(20 * 8192, closed)));
    }

    [Fact]
    public void A_neighbour_reaching_over_the_block_boundary_makes_no_run_in_the_block()
    {
        // Block 1: an extent from block 0 reaching into it, the piece right after it, then 15 pieces each after a hole.
        var spanning = new Extent(Block - 4096, 8192, ChunkId.Of([9]), 0);
        var inside = Enumerable.Range(0, 16).Select(i => new Extent(Block + 4096 + (i * 8192L), 4096, ChunkId.Of(BitConverter.GetBytes(i)), 0));
        List<Extent> extents = [spanning, .. inside];
        var inode = File(3 * Block, extents);

        Assert.Equal(17, inode.Extents.CountTouching(Block, 2 * Block));
        Assert.Null(Compactor.Choose([.. inode.Extents.Touching(Block, 2 * Block)], Block, 2 * Block, 16));
        Assert.Empty(Found(inode));
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

    private static PeerId Member(int i) => new(new string((char)('a' + i), 64));

    /// <summary>A state whose replicated member list is these, admitted in the given order after the founder.</summary>
    private static FileSystemState WithMembers(PeerId founder, IEnumerable<PeerId> others)
    {
        var state = FileSystemState.Genesis(1, founder);
        foreach (var m in others) state = state.Apply(new Mutation { Kind = new AdmitMember(m, "127.0.0.1:1"), TimeNs = 2 }).State;
        return state;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    public void In_every_turn_exactly_one_member_takes_each_file_and_over_as_many_turns_as_members_each_takes_it_once(int count)
    {
        var members = Enumerable.Range(1, count).Select(Member).ToArray();
        var state = WithMembers(members[0], members.Skip(1));

        for (ulong ino = 2; ino < 302; ino++)
        {
            var takers = new List<PeerId>();
            for (long turn = 0; turn < 2L * count; turn++)
            {
                var taking = members.Where(m => FragmentedBlocks.Takes(state, m, ino, turn)).ToArray();
                Assert.Single(taking);
                takers.Add(taking[0]);
            }
            // Turns 0..N-1 go through the members, one each, and turns N..2N-1 repeat them in the same order.
            Assert.Equal(members.OrderBy(m => m), takers.Take(count).OrderBy(m => m));
            Assert.Equal(takers.Take(count), takers.Skip(count));
            Assert.Equal(members.Select(m => FragmentedBlocks.RankOf(state, m, ino)).Order(), Enumerable.Range(0, count));
        }
    }

    [Fact]
    public void The_member_taking_a_file_first_is_spread_over_the_members()
    {
        var members = Enumerable.Range(1, 3).Select(Member).ToArray();
        var state = WithMembers(members[0], members.Skip(1));
        var firsts = new int[members.Length];

        for (ulong ino = 2; ino < 302; ino++) firsts[Array.FindIndex(members, m => FragmentedBlocks.Takes(state, m, ino, 0))]++;

        // Spread over all three (a fixed mix: 300 files give each member a share).
        Assert.All(firsts, n => Assert.InRange(n, 60, 140));
    }

    [Fact]
    public void Who_takes_a_file_depends_on_the_replicated_member_list_not_on_the_order_members_joined()
    {
        var members = Enumerable.Range(1, 4).Select(Member).ToArray();
        var joined = WithMembers(members[0], members.Skip(1));
        var reversed = WithMembers(members[0], members.Skip(1).Reverse());

        for (ulong ino = 2; ino < 202; ino++)
        {
            foreach (var m in members) Assert.Equal(FragmentedBlocks.RankOf(joined, m, ino), FragmentedBlocks.RankOf(reversed, m, ino));
        }
    }

    [Fact]
    public void A_member_leaving_moves_only_the_files_it_ranked_before_the_others()
    {
        var members = Enumerable.Range(1, 4).Select(Member).ToArray();
        var all = WithMembers(members[0], members.Skip(1));
        var without = WithMembers(members[0], members.Skip(1).SkipLast(1));
        var gone = members[^1];

        for (ulong ino = 2; ino < 202; ino++)
        {
            foreach (var m in members.SkipLast(1))
            {
                var before = FragmentedBlocks.RankOf(all, m, ino);
                var expected = FragmentedBlocks.RankOf(all, gone, ino) < before ? before - 1 : before;
                Assert.Equal(expected, FragmentedBlocks.RankOf(without, m, ino));
            }
        }
    }

    [Fact]
    public void A_node_outside_the_member_list_takes_every_file_in_every_turn()
    {
        var state = WithMembers(Member(1), [Member(2)]);

        for (long turn = 0; turn < 4; turn++) Assert.True(FragmentedBlocks.Takes(state, Member(5), 42, turn));
    }

    [Fact]
    public void The_periodic_turn_is_the_window_nearest_the_clock_so_nodes_a_little_early_or_late_agree()
    {
        var every = TimeSpan.FromMinutes(10);
        const long Window = 600_000;

        Assert.Equal(1000, FragmentedBlocks.TurnAt(1000 * Window, every));
        Assert.Equal(1000, FragmentedBlocks.TurnAt((1000 * Window) - 2_000, every));
        Assert.Equal(1000, FragmentedBlocks.TurnAt((1000 * Window) + 2_000, every));
        Assert.Equal(1001, FragmentedBlocks.TurnAt(1001 * Window, every));
    }
}
