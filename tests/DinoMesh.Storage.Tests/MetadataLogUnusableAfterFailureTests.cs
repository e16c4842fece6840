using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// A truncation or a replacement that fails part-way leaves the log's segments and its idea of its last version apart:
/// an append on it then would leave a hole (or write past records that are gone). The log refuses every further use
/// until it is reopened, which reads the files as they are. The failure is made real: one segment file is immutable
/// (<c>chattr +i</c>), so its unlink fails with EPERM.
/// </summary>
public sealed class MetadataLogUnusableAfterFailureTests
{
    private const long Last = 1000;

    [Fact]
    public void A_truncation_that_failed_part_way_refuses_appends_and_syncs_until_the_log_is_reopened()
    {
        using var fixture = SyncedLog();
        using var pinned = ImmutableFile.Pin(fixture.SegmentFiles().First(f => SegmentFormat.ParseFileName(Path.GetFileName(f)) > 400));

        Assert.Throws<UnauthorizedAccessException>(() => fixture.Log.TruncateSuffix(300));

        var append = Assert.Throws<IOException>(() => fixture.Log.Append(fixture.Log.LastVersion + 1, 2, LogFixture.Payload(1)));
        Assert.Contains("unusable until the node restarts", append.Message);
        Assert.Contains("dropping records from 300", append.Message);
        Assert.Throws<IOException>(() => fixture.Log.Sync());
        Assert.Throws<IOException>(() => fixture.Log.TruncateSuffix(200));

        pinned.Dispose();
        var reopened = fixture.Reopen();
        // Whatever the failure left is a prefix of the old log, and the reopened log takes appends after it.
        Assert.Equal(Enumerable.Range(1, (int)reopened.LastVersion).Select(v => (long)v), reopened.ReadFrom(1).Select(r => r.Version));
        reopened.Append(reopened.LastVersion + 1, 2, LogFixture.Payload(reopened.LastVersion + 1));
        reopened.Sync();
    }

    [Fact]
    public void A_replacement_that_failed_part_way_refuses_appends_until_the_log_is_reopened()
    {
        using var fixture = SyncedLog();
        using var pinned = ImmutableFile.Pin(fixture.SegmentFiles().Last(f => SegmentFormat.ParseFileName(Path.GetFileName(f)) <= 700));

        Assert.Throws<UnauthorizedAccessException>(() => fixture.Log.ReplaceWithSnapshot(500, 2, [5]));

        var append = Assert.Throws<IOException>(() => fixture.Log.Append(Last + 1, 1, LogFixture.Payload(Last + 1)));
        Assert.Contains("replacing the log with the snapshot at 500", append.Message);

        pinned.Dispose();
        var reopened = fixture.Reopen();
        Assert.Equal(0, reopened.SnapshotVersion);
        Assert.Equal(Enumerable.Range(1, (int)reopened.LastVersion).Select(v => (long)v), reopened.ReadFrom(1).Select(r => r.Version));
    }

    [Fact]
    public void A_truncation_refused_before_it_touched_a_file_leaves_the_log_usable()
    {
        using var fixture = SyncedLog();
        fixture.Log.SaveSnapshot(100, 1, [1]);

        Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Log.TruncateSuffix(50));

        fixture.Log.Append(Last + 1, 1, LogFixture.Payload(Last + 1));
        fixture.Log.Sync();
        Assert.Equal(Last + 1, fixture.Log.LastVersion);
    }

    /// <summary>Versions 1 to 1000 of term 1 over about a dozen segments, synced.</summary>
    private static LogFixture SyncedLog()
    {
        var fixture = new LogFixture(segmentSize: 8 * 1024);
        fixture.AppendRange(1, Last, term: 1);
        fixture.Log.Sync();
        Assert.InRange(fixture.SegmentFiles().Length, 6, 40);
        return fixture;
    }
}
