using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// The bookkeeping of a staged O_APPEND run (<see cref="StagedFile.AppendFrom"/>): where its commit says it starts, and
/// where a commit of only the sealed blocks must stop so that no append is committed in two parts, which another
/// node's append could come between (a torn line).
/// </summary>
public sealed class StagedAppendRunTests
{
    private const long Block = 4096;

    private static Extent Sealed(long offset, long length) => new(offset, length, default, 0, null);

    [Fact]
    public void A_commit_of_sealed_blocks_stops_at_the_start_of_an_append_it_would_cut_in_two()
    {
        var staged = new StagedFile();
        staged.Appended(100, 3000, Block);
        staged.Appended(3100, 3000, Block);      // crosses 4096: its head is in block 0, its tail in block 1
        lock (staged.Gate)
        {
            staged.Pending.Add(Sealed(0, Block));
            staged.RebuildPendingMap();
        }
        Assert.Equal(100L, staged.AppendFrom);
        Assert.Equal(3100L, staged.AppendCut());

        // Once block 1 is sealed too, the pending extents end past the append: nothing to cut.
        staged.Pending.Add(Sealed(Block, 2004));
        staged.RebuildPendingMap();
        Assert.Equal(long.MaxValue, staged.AppendCut());
    }

    [Fact]
    public void The_parts_a_commit_left_out_stay_first_in_line_and_the_run_goes_on_from_where_it_stopped()
    {
        var staged = new StagedFile();
        staged.Appended(100, 3000, Block);
        staged.Appended(3100, 3000, Block);
        staged.Pending.Add(Sealed(0, Block));
        staged.Pending.Add(Sealed(Block, 100));
        staged.RebuildPendingMap();

        staged.RemoveCommitted(1, 3100);
        staged.AppendCommitted(3100);

        Assert.Equal([(3100L, 996L), (Block, 100L)], staged.Pending.Select(e => (e.Offset, e.Length)).ToArray());
        Assert.Equal(3100L, staged.AppendFrom);
        staged.AppendCommitted(6100);
        Assert.Null(staged.AppendFrom);
    }

    [Fact]
    public void A_truncate_below_the_run_ends_it()
    {
        var staged = new StagedFile();
        staged.Appended(100, 10, Block);
        staged.AppendTruncated(105);
        Assert.Equal((100L, 105L), (staged.AppendFrom!.Value, staged.AppendEnd));
        staged.AppendTruncated(50);
        Assert.Null(staged.AppendFrom);
    }
}
