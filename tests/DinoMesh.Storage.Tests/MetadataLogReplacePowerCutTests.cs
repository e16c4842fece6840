using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// A diverged follower replaces its whole log with the holder's snapshot (<see cref="MetadataLog.ReplaceWithSnapshot"/>)
/// and the power goes part-way (<see cref="PowerCut"/>), or an unlink fails. The log must open afterwards as the old
/// snapshot with a prefix of the old records, or as the new snapshot alone: never a hole, never an old record after
/// the new snapshot.
/// </summary>
public class MetadataLogReplacePowerCutTests
{
    private const long SnapshotVersion = 500, SnapshotTerm = 2, OldLast = 1000;

    /// <summary>
    /// Every sync point of the replacement, and every cut just before a directory fsync in which one of the unlinks it
    /// was to make durable alone reached the disk. Before, the segments were unlinked oldest first with one fsync at
    /// the end: a cut that kept the oldest's unlink and not the others' left later segments without the first, and
    /// open refused the log (it starts past version 1).
    /// </summary>
    [Fact]
    public void A_power_cut_at_any_point_of_a_replacement_leaves_the_old_log_cut_short_or_the_new_snapshot()
    {
        int points;
        using (var dry = LogToReplace())
        {
            var cut = new PowerCut(dry.Log, dry.SegmentDirectory, dry.SyncedPath);
            dry.Log.ReplaceWithSnapshot(SnapshotVersion, SnapshotTerm, [5]);
            points = cut.Points;
        }
        Assert.InRange(points, 4, 100);

        var replaced = new List<bool>();
        for (var point = 0; point < points; point++)
        {
            using var fixture = LogToReplace();
            var cut = new PowerCut(fixture.Log, fixture.SegmentDirectory, fixture.SyncedPath, stopAt: point);
            Assert.Throws<PowerCut.PowerWentOut>(() => fixture.Log.ReplaceWithSnapshot(SnapshotVersion, SnapshotTerm, [5]));
            fixture.Log.Dispose();
            cut.Restore(point);

            var reopened = fixture.Reopen();

            if (reopened.SnapshotVersion == SnapshotVersion)
            {
                Assert.Equal(SnapshotVersion, reopened.LastVersion);
                Assert.Equal(SnapshotTerm, reopened.LastTerm);
                Assert.Empty(reopened.ReadFrom(SnapshotVersion + 1));
                replaced.Add(true);
                continue;
            }
            Assert.Equal(0, reopened.SnapshotVersion);
            var records = reopened.ReadFrom(1).ToList();
            Assert.InRange(reopened.LastVersion, 0, OldLast);
            Assert.Equal(Enumerable.Range(1, (int)reopened.LastVersion).Select(v => (long)v), records.Select(r => r.Version));
            Assert.All(records, r => Assert.Equal(1, r.Term));
            replaced.Add(false);
        }
        // Once replaced, it stays replaced; and by the last point it is.
        Assert.True(replaced[^1]);
        Assert.Equal(replaced.OrderBy(r => r), replaced);
    }

    /// <summary>
    /// An unlink that fails (here an immutable segment past the new snapshot) throws before the snapshot is named, and
    /// the log opens as the old one cut short. Before, the failure was swallowed: the snapshot was named with the
    /// segment still there, and the next open took its records as the ones after the snapshot (or refused the log when
    /// the segment began past it).
    /// </summary>
    [Fact]
    public void A_failed_unlink_throws_and_leaves_the_old_log_cut_short()
    {
        using var fixture = LogToReplace();
        using (ImmutableFile.Pin(fixture.SegmentFiles().Last(f => SegmentFormat.ParseFileName(Path.GetFileName(f)) <= 700)))
        {
            Assert.Throws<UnauthorizedAccessException>(() => fixture.Log.ReplaceWithSnapshot(SnapshotVersion, SnapshotTerm, [5]));
        }

        var reopened = fixture.Reopen();

        Assert.Equal(0, reopened.SnapshotVersion);
        Assert.InRange(reopened.LastVersion, 700, OldLast - 1);
        Assert.Equal(Enumerable.Range(1, (int)reopened.LastVersion).Select(v => (long)v), reopened.ReadFrom(1).Select(r => r.Version));
        Assert.All(reopened.ReadFrom(1), r => Assert.Equal(1, r.Term));
    }

    /// <summary>Versions 1 to 1000 of term 1 over about a dozen segments, synced; replaced by a snapshot at 500 of term 2.</summary>
    private static LogFixture LogToReplace()
    {
        var fixture = new LogFixture(segmentSize: 8 * 1024);
        fixture.AppendRange(1, OldLast, term: 1);
        fixture.Log.Sync();
        Assert.InRange(fixture.SegmentFiles().Length, 6, 40);
        return fixture;
    }
}
