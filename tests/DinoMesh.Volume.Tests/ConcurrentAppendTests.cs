using System.Collections.Concurrent;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// An O_APPEND write is staged at the end of the file as this node knows it, but another node's append may reach the
/// log first: both nodes saw size S and wrote there (two `tee -a` on two machines), or this node's commit came late
/// (it timed out, and the proposal reached the holder anyway). The staging and commit path must then let the bytes
/// land after the other node's, not over them: before, the later commit laid its line at S, over an acknowledged one.
/// Another node's append is interjected here just before this node's commit (<see cref="MemoryCommitter.BeforeNextCommit"/>),
/// laid where it says, as a node of any version lays a plain write.
/// </summary>
public sealed class ConcurrentAppendTests
{
    private const int OWrOnly = 1, OAppend = 0x400;
    private static readonly FuseContext Owner = Caller(1000, 1000);

    private static WriteExtents OtherNodesLine(ulong ino, long at, byte[] line) =>
        new(ino, [new Extent(at, line.Length, default, 0, line)], (ulong)(at + line.Length));

    [Fact]
    public async Task Two_nodes_appending_at_the_same_end_keep_both_lines_in_log_order()
    {
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "log", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly | OAppend);
        await volume.WriteAsync(Owner, ino, fh, 100, Bytes(10, 9));
        // Node B saw size 100 too; its line reaches the log first.
        volume.Meta.BeforeNextCommit(_ => OtherNodesLine(ino, 100, Bytes(7, 50)));
        await volume.CloseAsync(Owner, ino, fh);

        await ReadsBackAsync(volume, ino, [.. Bytes(100, 1), .. Bytes(7, 50), .. Bytes(10, 9)]);
    }

    [Fact]
    public async Task Appends_staged_before_and_after_another_nodes_line_arrived_stay_one_run_after_it()
    {
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "log", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly | OAppend);
        await volume.WriteAsync(Owner, ino, fh, 100, Bytes(10, 9));
        // B's line at 100 is applied here while this node's first line is still staged (both saw size 100).
        volume.Meta.ApplyRemote(OtherNodesLine(ino, 100, Bytes(7, 50)));
        await volume.WriteAsync(Owner, ino, fh, 110, Bytes(10, 20));
        await volume.CloseAsync(Owner, ino, fh);

        await ReadsBackAsync(volume, ino, [.. Bytes(100, 1), .. Bytes(7, 50), .. Bytes(10, 9), .. Bytes(10, 20)]);
    }

    [Fact]
    public async Task A_plain_write_below_the_append_point_stays_where_it_was_written_while_the_append_moves()
    {
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "log", Bytes(100, 1));
        var plain = await volume.OpenAsync(Owner, ino, OWrOnly);
        var append = await volume.OpenAsync(Owner, ino, OWrOnly | OAppend);
        await volume.WriteAsync(Owner, ino, plain, 0, Bytes(4, 77));
        await volume.WriteAsync(Owner, ino, append, 100, Bytes(10, 9));
        volume.Meta.BeforeNextCommit(_ => OtherNodesLine(ino, 100, Bytes(7, 50)));
        await volume.CloseAsync(Owner, ino, append);
        await volume.CloseAsync(Owner, ino, plain);

        byte[] head = [.. Bytes(4, 77), .. Bytes(100, 1)[4..]];
        await ReadsBackAsync(volume, ino, [.. head, .. Bytes(7, 50), .. Bytes(10, 9)]);
    }

    [Fact]
    public async Task The_kernel_is_told_to_drop_the_file_when_this_nodes_append_landed_elsewhere()
    {
        using var volume = new TestVolume();
        var kernel = new RecordingKernel();
        volume.Fs.Mounted(kernel);
        var ino = await volume.WriteFileAsync(Owner, "log", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly | OAppend);
        // The kernel's offset is the end this node staged at: nothing is wrong with its cache yet.
        await volume.WriteAsync(Owner, ino, fh, 100, Bytes(10, 9));
        Assert.True(await volume.Fs.WaitForInvalidationsAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        var before = kernel.Dropped(ino);

        volume.Meta.BeforeNextCommit(_ => OtherNodesLine(ino, 100, Bytes(7, 50)));
        await volume.CloseAsync(Owner, ino, fh);
        Assert.True(await volume.Fs.WaitForInvalidationsAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));

        // One drop for B's line as it was applied here, one for this node's line, which the kernel holds at 100 and
        // which landed at 107.
        Assert.Equal(before + 2, kernel.Dropped(ino));
    }

    [Fact]
    public async Task An_append_with_no_other_node_in_between_is_not_moved_and_costs_the_kernel_nothing()
    {
        using var volume = new TestVolume();
        var kernel = new RecordingKernel();
        volume.Fs.Mounted(kernel);
        var ino = await volume.WriteFileAsync(Owner, "log", Bytes(100, 1));
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly | OAppend);
        Assert.True(await volume.Fs.WaitForInvalidationsAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        var before = kernel.Dropped(ino);
        await volume.WriteAsync(Owner, ino, fh, 100, Bytes(10, 9));
        await volume.CloseAsync(Owner, ino, fh);
        Assert.True(await volume.Fs.WaitForInvalidationsAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));

        Assert.Equal(before, kernel.Dropped(ino));
        await ReadsBackAsync(volume, ino, [.. Bytes(100, 1), .. Bytes(10, 9)]);
    }

    /// <summary>
    /// An fsync whose commit timed out, though the holder took the proposal and it landed: the close that follows must
    /// not commit the line again. A plain write committed twice lands twice at one place; an append lands after itself
    /// (load/nemesis.py --appends concurrent, seeds 2 and 3: a line whose fsync timed out was in the file twice). The
    /// close reports the error, so the program does not take the line as written.
    /// </summary>
    [Fact]
    public async Task An_append_whose_commit_timed_out_but_landed_is_not_committed_again_by_the_close()
    {
        using var volume = new TestVolume();
        var ino = await volume.WriteFileAsync(Owner, "log", Bytes(100, 1));
        var writes = volume.Meta.CommittedOf<WriteExtents>().Count;
        var fh = await volume.OpenAsync(Owner, ino, OWrOnly | OAppend);
        await volume.WriteAsync(Owner, ino, fh, 100, Bytes(10, 9));
        volume.Meta.Refuse = kind =>
        {
            if (kind is not WriteExtents) return null;
            volume.Meta.ApplyRemote(kind);      // the holder took it; the answer did not come back in time
            return FsError.TimedOut;
        };
        Assert.Equal((int)FsError.TimedOut, await volume.Fs.FsyncAsync(Owner, ino, fh, false));
        volume.Meta.Refuse = null;

        Assert.Equal((int)FsError.TimedOut, await volume.Fs.FlushAsync(Owner, ino, fh, 0));
        Assert.Equal((int)FsError.TimedOut, await volume.Fs.ReleaseAsync(Owner, ino, fh, 0));
        Assert.Equal(writes, volume.Meta.CommittedOf<WriteExtents>().Count);
        await ReadsBackAsync(volume, ino, [.. Bytes(100, 1), .. Bytes(10, 9)]);
    }

    /// <summary>The whole file, read through a handle of its own, is <paramref name="expected"/>.</summary>
    private static async Task ReadsBackAsync(TestVolume volume, ulong ino, byte[] expected)
    {
        var reader = await volume.OpenAsync(Owner, ino, 0);
        Assert.Equal(expected, await volume.ReadAsync(Owner, ino, reader, 0, 1000));
        await volume.CloseAsync(Owner, ino, reader);
    }

    /// <summary>Counts the kernel's drops of an inode's pages (offset 0, the whole file).</summary>
    private sealed class RecordingKernel : IFuseNotifier
    {
        private readonly ConcurrentQueue<(ulong Ino, long Offset)> _inodes = new();

        public int Dropped(ulong ino) => _inodes.Count(i => i.Ino == ino && i.Offset == 0);

        public int InvalidateInode(ulong ino, long offset, long length)
        {
            _inodes.Enqueue((ino, offset));
            return 0;
        }

        public int InvalidateEntry(ulong parent, ReadOnlySpan<byte> name) => 0;

        public int Delete(ulong parent, ulong child, ReadOnlySpan<byte> name) => 0;
    }
}
