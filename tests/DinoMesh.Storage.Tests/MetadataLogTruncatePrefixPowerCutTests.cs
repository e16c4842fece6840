using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// <see cref="Storage.Metadata.MetadataLog.TruncatePrefix"/> unlinks the segments the floor covers oldest first, with
/// one directory fsync at the end, and swallows a failed unlink: unlike a replacement, that leaves no hole that
/// matters, because the floor is durable (its SQLite commit) before any unlink, and open deletes whatever segment the
/// floor covers. This holds it to that at every point a power cut can leave (one unlink alone on the disk included).
/// It passes without this branch's changes: it checks that TruncatePrefix does not need them.
/// </summary>
public class MetadataLogTruncatePrefixPowerCutTests
{
    [Fact]
    public void A_power_cut_at_any_point_of_a_prefix_truncation_leaves_a_log_from_the_floor_that_opens()
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        fixture.AppendRange(1, 1000, term: 1);
        fixture.Log.SaveSnapshot(800, 1, [8]);
        fixture.Log.Sync();
        var cut = new PowerCut(fixture.Log, fixture.SegmentDirectory, fixture.SyncedPath);

        fixture.Log.TruncatePrefix(700);

        // The start, the directory fsync, and before it each unlink alone.
        Assert.InRange(cut.Points, 5, 100);
        for (var point = 0; point < cut.Points; point++)
        {
            fixture.Log.Dispose();
            cut.Restore(point);
            var reopened = fixture.Reopen();
            Assert.Equal(701, reopened.FirstVersion);
            Assert.Equal(1000, reopened.LastVersion);
            Assert.Equal(Enumerable.Range(701, 300).Select(v => (long)v), reopened.ReadFrom(701).Select(r => r.Version));
        }
    }
}
