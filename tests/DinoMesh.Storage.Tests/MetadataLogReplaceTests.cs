using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

// A diverged follower takes the holder's snapshot over everything it had, even records and a snapshot past it.
public class MetadataLogReplaceTests
{
    [Fact]
    public void A_replacing_snapshot_older_than_the_log_and_its_snapshot_supersedes_both_and_survives_a_reopen()
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        fixture.AppendRange(1, 1000, term: 1);
        fixture.Log.SaveSnapshot(800, 1, [8, 0, 0]);
        fixture.Log.Sync();

        fixture.Log.ReplaceWithSnapshot(500, 2, [5, 0, 0]);

        Assert.Equal(500, fixture.Log.LastVersion);
        Assert.Equal(500, fixture.Log.SnapshotVersion);
        Assert.Equal(2, fixture.Log.TermAt(500));
        Assert.Empty(fixture.Log.ReadFrom(fixture.Log.FirstVersion));
        Assert.Empty(fixture.SegmentFiles());
        fixture.Log.Append(501, 3, LogFixture.Payload(501, 40));
        fixture.Log.Sync();
        var reopened = fixture.Reopen();
        Assert.Equal(501, reopened.LastVersion);
        Assert.Equal(500, reopened.SnapshotVersion);
        Assert.Equal([5, 0, 0], reopened.LoadSnapshot()!.State);
        Assert.Equal(501, reopened.FirstVersion);
        Assert.Equal([501L], reopened.ReadFrom(501).Select(r => r.Version));
        Assert.Equal(3, reopened.TermAt(501));
    }

    [Fact]
    public void A_replacing_snapshot_past_the_log_leaves_only_itself()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 20, term: 1);
        fixture.Log.ReplaceWithSnapshot(30, 4, [3]);
        var reopened = fixture.Reopen();
        Assert.Equal(30, reopened.LastVersion);
        Assert.Equal(4, reopened.LastTerm);
        Assert.Empty(reopened.ReadFrom(reopened.FirstVersion));
    }
}
