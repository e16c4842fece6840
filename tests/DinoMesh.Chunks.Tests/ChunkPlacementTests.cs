using DinoMesh.Chunks.Tests.Fakes;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Chunks.Tests;

public class ChunkPlacementTests
{
    private static readonly ChunkPeer[] Ten = [.. Enumerable.Range(0, 10).Select(i => Peers.Peer($"n{i}"))];

    private static ChunkId Chunk(int i) => ChunkId.Of(BitConverter.GetBytes(i));

    [Fact]
    public void Placement_is_R_distinct_members_and_the_same_whatever_the_order_of_the_members()
    {
        var shuffled = Ten.Reverse().ToArray();
        for (var i = 0; i < 500; i++)
        {
            var a = ChunkPlacement.For(Chunk(i), Ten, 3);
            Assert.Equal(3, a.Distinct().Count());
            Assert.Equal(a, ChunkPlacement.For(Chunk(i), shuffled, 3));
            // The first R of the full ranking are the placement: fallback targets extend it, never reorder it.
            Assert.Equal(a, ChunkPlacement.Ranked(Chunk(i), Ten).Take(3));
        }
    }

    [Fact]
    public void R_is_capped_by_the_members()
    {
        Assert.Equal(2, ChunkPlacement.For(Chunk(1), Ten[..2], 3).Length);
        Assert.Empty(ChunkPlacement.For(Chunk(1), [], 2));
        Assert.Equal(1, ChunkPlacement.Effective(2, 1));
        Assert.Equal(2, ChunkPlacement.Effective(2, 5));
    }

    [Fact]
    public void A_member_joining_moves_only_the_chunks_it_wins()
    {
        const int chunks = 20_000;
        var eleven = Ten.Append(Peers.Peer("n10")).ToArray();
        var moved = 0;
        for (var i = 0; i < chunks; i++)
        {
            var before = ChunkPlacement.For(Chunk(i), Ten, 2);
            var after = ChunkPlacement.For(Chunk(i), eleven, 2);
            var changed = after.Except(before).ToArray();
            // Whatever changed, changed to the newcomer.
            Assert.All(changed, p => Assert.Equal(eleven[^1], p));
            moved += changed.Length;
        }
        // The newcomer should win about R/N = 2/11 of the placements; allow ±20 %.
        var expected = chunks * 2.0 / 11;
        Assert.InRange(moved, expected * 0.8, expected * 1.2);
    }

    [Fact]
    public void A_member_leaving_moves_only_the_chunks_it_held()
    {
        var nine = Ten[1..];
        for (var i = 0; i < 5000; i++)
        {
            var before = ChunkPlacement.For(Chunk(i), Ten, 3);
            var after = ChunkPlacement.For(Chunk(i), nine, 3);
            if (!before.Contains(Ten[0])) Assert.Equal(before, after);
            else Assert.Equal(2, before.Intersect(after).Count());
        }
    }

    [Fact]
    public void Placement_spreads_chunks_evenly()
    {
        var counts = Ten.ToDictionary(p => p.Id, _ => 0);
        const int chunks = 20_000;
        for (var i = 0; i < chunks; i++)
        {
            foreach (var p in ChunkPlacement.For(Chunk(i), Ten, 2)) counts[p.Id]++;
        }
        var mean = chunks * 2.0 / Ten.Length;
        Assert.All(counts.Values, c => Assert.InRange(c, mean * 0.9, mean * 1.1));
    }
}
