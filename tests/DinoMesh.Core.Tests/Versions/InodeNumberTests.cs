using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using static DinoMesh.Core.Tests.Support.Mutations;

namespace DinoMesh.Core.Tests.Versions;

public class InodeNumberTests
{
    private const ulong Root = FileSystemState.RootIno;

    [Fact]
    public void Numbers_are_handed_out_in_order_from_two()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "d"), out ulong d).Ok(File(d, "f"), out ulong f).Ok(Symlink(Root, "l", "d"), out ulong l);
        Assert.Equal((2ul, 3ul, 4ul), (d, f, l));
        Assert.Equal(5ul, s.NextIno);
    }

    [Fact]
    public void Link_rename_and_failures_allocate_no_number()
    {
        var s = StateAssert.Fresh().Ok(File(Root, "f"), out ulong f);
        s.Fails(File(Root, "f"), FsError.Exists);
        s = s.Ok(Link(f, Root, "g")).Ok(Rename(Root, "g", Root, "h"));
        s = s.Ok(File(Root, "next"), out ulong next);
        Assert.Equal(f + 1, next);
    }

    [Fact]
    public void Numbers_are_never_reused_after_delete()
    {
        var s = StateAssert.Fresh();
        var seen = new HashSet<ulong>();
        for (var i = 0; i < 50; i++)
        {
            s = s.Ok(File(Root, "f"), out ulong f).Ok(Unlink(Root, "f")).Ok(Reclaim(f)).Ok(Mkdir(Root, "d"), out ulong d).Ok(Rmdir(Root, "d"));
            Assert.True(seen.Add(f), $"file number {f} reused");
            Assert.True(seen.Add(d), $"directory number {d} reused");
        }
        Assert.Single(s.Inodes);
        Assert.Equal(102ul, s.NextIno);
    }

    // Regression: inode numbers changed across restarts, so NFS handles, `find -inum` and hard-link detection broke.
    [Fact]
    public void Numbers_are_stable_through_a_snapshot_round_trip()
    {
        var s = StateAssert.Fresh().Ok(Mkdir(Root, "a"), out ulong a).Ok(File(a, "f"), out ulong f).Ok(File(Root, "gone"), out ulong gone)
            .Ok(Unlink(Root, "gone")).Ok(Reclaim(gone)).Ok(Link(f, Root, "hard"));

        var restored = Snapshots.RoundTrip(s);
        Assert.Equal(a, restored.At("a").Ino);
        Assert.Equal(f, restored.At("a/f").Ino);
        Assert.Equal(f, restored.At("hard").Ino);
        Assert.Null(restored.Find(gone));
        Assert.Equal(s.NextIno, restored.NextIno);

        // The next number after a restart is the one the node would have given without it.
        s.Ok(File(Root, "new"), out ulong withoutRestart);
        restored.Ok(File(Root, "new"), out ulong afterRestart);
        Assert.Equal(withoutRestart, afterRestart);
        Assert.Equal(gone + 1, afterRestart);
    }
}
