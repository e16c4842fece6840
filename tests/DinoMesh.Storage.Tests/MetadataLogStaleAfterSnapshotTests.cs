using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// Segments a replacing snapshot dropped are back at open (an unlink a crash lost, or one that failed): their records
/// after the snapshot are of an older term than the snapshot's, which a log never holds otherwise. Open drops them
/// (they contradict the cluster's state; the node is behind and catches up), or refuses when they cannot be such
/// leftovers.
/// </summary>
public class MetadataLogStaleAfterSnapshotTests
{
    [Fact]
    public void Segments_of_an_older_term_back_after_a_replacing_snapshot_are_dropped_at_open()
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        fixture.AppendRange(1, 1000, term: 1);
        fixture.Log.Sync();
        var old = fixture.SegmentFiles().ToDictionary(f => f, File.ReadAllBytes);
        fixture.Log.ReplaceWithSnapshot(500, 2, [5]);
        fixture.Log.Dispose();
        foreach (var (file, bytes) in old) File.WriteAllBytes(file, bytes);
        var logger = new ListLogger();

        var reopened = fixture.Reopen(logger);

        Assert.Equal(500, reopened.LastVersion);
        Assert.Equal(2, reopened.LastTerm);
        Assert.Empty(reopened.ReadFrom(501));
        Assert.Empty(fixture.SegmentFiles());
        Assert.Contains(logger.At(LogLevel.Warning), m => m.Contains("older term") && m.Contains("versions 501 to 1000"));
        reopened.Append(501, 3, LogFixture.Payload(501));
        reopened.Sync();
        var again = fixture.Reopen();
        Assert.Equal(501, again.LastVersion);
        Assert.Equal([3L], again.ReadFrom(501).Select(r => r.Term));
    }

    /// <summary>
    /// The snapshot did not replace the log (the floor is below it), so the record at its version is in the log and of
    /// an older term than the snapshot says: not a leftover but damage, refused without changing any file.
    /// </summary>
    [Fact]
    public void Records_of_an_older_term_after_a_snapshot_that_did_not_replace_the_log_are_refused()
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        fixture.AppendRange(1, 1000, term: 1);
        fixture.Log.SaveSnapshot(500, 2, [5]);
        fixture.Log.Sync();
        fixture.Log.Dispose();
        var before = fixture.SegmentFiles();

        Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());
        Assert.Equal(before, fixture.SegmentFiles());
    }

    /// <summary>
    /// The synced marker promises versions after the snapshot that are of an older term: a replacement lowers the
    /// marker before it drops anything, so these are not its leftovers; refused.
    /// </summary>
    [Fact]
    public void Records_of_an_older_term_after_the_snapshot_that_the_marker_promises_are_refused()
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        fixture.AppendRange(1, 1000, term: 1);
        fixture.Log.Sync();
        var old = fixture.SegmentFiles().ToDictionary(f => f, File.ReadAllBytes);
        var marker = File.ReadAllBytes(fixture.SyncedPath);
        fixture.Log.ReplaceWithSnapshot(500, 2, [5]);
        fixture.Log.Dispose();
        foreach (var (file, bytes) in old) File.WriteAllBytes(file, bytes);
        File.WriteAllBytes(fixture.SyncedPath, marker);

        Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());
        // Nothing past the floor was deleted (the segments below it went: the floor covers them).
        Assert.Equal(old.Keys.Order(StringComparer.Ordinal).Last(), fixture.SegmentFiles()[^1]);
    }
}
