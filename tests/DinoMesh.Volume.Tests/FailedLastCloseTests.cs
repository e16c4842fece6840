using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using DinoMesh.Volume.Tests.Fakes;
using static DinoMesh.Volume.Tests.Fakes.TestVolume;

namespace DinoMesh.Volume.Tests;

/// <summary>
/// A last close whose commit is refused (ETIMEDOUT on a minority side of a partition) reports the error and gives the
/// staged bytes up: the file then reads as what is committed, on this node as on every other. Before, the bytes stayed
/// staged with no one left to flush them, and this node alone read them for ever (load/nemesis.py, seed 1: after the
/// heal one mount showed 64 KiB of a file the two others, at the same state hash, showed empty). A close that is not
/// the last keeps them for the next flush. And the two other ways load/nemesis.py found appends landing over other
/// nodes' lines: a release committing late, an append open on a stale state.
/// </summary>
public sealed class FailedLastCloseTests : IDisposable
{
    private static readonly FuseContext Owner = Caller(1000, 1000);
    private readonly TestVolume _volume = new();

    public FailedLastCloseTests() => _volume.Fs.Mounted(new NoKernel());

    [Fact]
    public async Task A_last_close_that_cannot_commit_drops_the_staged_bytes_and_the_file_reads_as_committed()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "f");
        await _volume.WriteAsync(Owner, ino, fh, 0, Bytes(65536, 3));
        _volume.Meta.Refuse = kind => kind is WriteExtents ? FsError.TimedOut : null;

        Assert.Equal((int)FsError.TimedOut, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));
        Assert.Equal((int)FsError.TimedOut, await _volume.Fs.ReleaseAsync(Owner, ino, fh, 0));
        _volume.Meta.Refuse = null;

        Assert.Equal(0UL, (await _volume.GetAttrAsync(ino)).Value.Attributes.Size);
        var again = await _volume.OpenAsync(Owner, ino);
        Assert.Empty(await _volume.ReadAsync(Owner, ino, again, 0, 65536));
        await _volume.CloseAsync(Owner, ino, again);
        Assert.Empty(_volume.Meta.CommittedOf<WriteExtents>());
    }

    /// <summary>
    /// The kernel sends RELEASE after close(2) returned the FLUSH's error. By then the partition may have healed and
    /// another node appended at the end this file had: committing the bytes now would lay them over that node's
    /// acknowledged line (load/nemesis.py, seeds 1 and 2). The release must not commit them.
    /// </summary>
    [Fact]
    public async Task The_release_after_a_close_that_could_not_commit_does_not_commit_the_bytes_late()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "late");
        await _volume.WriteAsync(Owner, ino, fh, 0, Bytes(5, 1));
        _volume.Meta.Refuse = kind => kind is WriteExtents ? FsError.TimedOut : null;
        Assert.Equal((int)FsError.TimedOut, await _volume.Fs.FlushAsync(Owner, ino, fh, 0));
        _volume.Meta.Refuse = null;
        // Another node appends at the end the file has (0), and its line is acknowledged.
        _volume.Meta.ApplyRemote(new WriteExtents(ino, [new Extent(0, 5, default, 0, Bytes(5, 2))], 5));

        Assert.Equal((int)FsError.TimedOut, await _volume.Fs.ReleaseAsync(Owner, ino, fh, 0));
        Assert.Empty(_volume.Meta.CommittedOf<WriteExtents>());
        var again = await _volume.OpenAsync(Owner, ino);
        Assert.Equal(Bytes(5, 2), await _volume.ReadAsync(Owner, ino, again, 0, 100));
        await _volume.CloseAsync(Owner, ino, again);
    }

    /// <summary>
    /// An O_APPEND open on a node that cannot learn the cluster's commit version fails with ETIMEDOUT rather than let
    /// writes land at an end of the file known from a stale state (load/nemesis.py, seed 6: a torn line where an
    /// append landed over another node's). Other opens read on with the local state.
    /// </summary>
    [Fact]
    public async Task An_append_open_cut_off_from_the_holder_fails_with_ETIMEDOUT_and_other_opens_go_on()
    {
        var ino = await _volume.WriteFileAsync(Owner, "log", Bytes(10, 1));
        _volume.Meta.CutOffFromHolder = true;
        const int oWrOnly = 1, oAppend = 0x400;
        var append = await _volume.Fs.OpenAsync(Owner, ino, oWrOnly | oAppend);
        Assert.Equal((int)FsError.TimedOut, append.Errno);
        var plain = await _volume.OpenAsync(Owner, ino, 0);
        Assert.Equal(Bytes(10, 1), await _volume.ReadAsync(Owner, ino, plain, 0, 100));
        await _volume.CloseAsync(Owner, ino, plain);
        _volume.Meta.CutOffFromHolder = false;
        var again = await _volume.OpenAsync(Owner, ino, oWrOnly | oAppend);
        await _volume.CloseAsync(Owner, ino, again);
    }

    [Fact]
    public async Task A_failed_close_that_is_not_the_last_keeps_the_bytes_for_the_next_flush()
    {
        var (ino, fh) = await _volume.CreateAsync(Owner, "g");
        var other = await _volume.OpenAsync(Owner, ino);
        await _volume.WriteAsync(Owner, ino, fh, 0, Bytes(5000, 4));
        _volume.Meta.Refuse = kind => kind is WriteExtents ? FsError.TimedOut : null;
        Assert.Equal((int)FsError.TimedOut, await _volume.Fs.ReleaseAsync(Owner, ino, fh, 0));
        _volume.Meta.Refuse = null;

        await _volume.CloseAsync(Owner, ino, other);
        Assert.Equal(5000L, _volume.Meta.Current.Find(ino)!.Size);
        var again = await _volume.OpenAsync(Owner, ino);
        Assert.Equal(Bytes(5000, 4), await _volume.ReadAsync(Owner, ino, again, 0, 8192));
        await _volume.CloseAsync(Owner, ino, again);
    }

    public void Dispose()
    {
        _volume.Fs.Unmounted();
        _volume.Dispose();
    }
}
