using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// A follower drops the uncommitted records a later holder replaced, appends the holder's, syncs them and acknowledges;
/// then the power goes (<see cref="PowerCut"/>: only what was synced is on the disk). The log must come back with the
/// records it synced and none of the ones it dropped. Before the truncation was synced, the dropped segment files came
/// back (the unlinks were never made durable) after the new records, which the cut-back segment's own fdatasync had
/// kept: the log then held the deposed holder's records after the new holder's, or was refused as damaged.
/// </summary>
public class MetadataLogTruncatePowerCutTests
{
    private const long ReplacingTerm = 2;

    [Theory]
    // The new records end where the next segment began and the replaced records' term is above theirs (a holder of
    // term 4 sending entries of term 2 over its deposed rival's of term 3): the old segments fitted and were taken silently.
    [InlineData(3, 0)]
    // The same with the replaced records of a lower term: refused at open ("an older term than the one before it").
    [InlineData(1, 0)]
    // The new records end before the next segment began: refused at open, a hole.
    [InlineData(3, -5)]
    // The new records reach past where it began: refused at open, the segments overlap.
    [InlineData(3, 5)]
    public void A_power_cut_after_synced_records_replaced_a_suffix_keeps_them_and_none_of_the_replaced(long replacedTerm, int endPastNextSegment)
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        var (from, next) = LogWithAReplaceableSuffix(fixture, replacedTerm);
        var cut = new PowerCut(fixture.Log, fixture.SegmentDirectory, fixture.SyncedPath);
        long end = next - 1 + endPastNextSegment;

        fixture.Log.TruncateSuffix(from);
        // Small payloads: the records stay in the cut-back segment, however far they reach, and no new segment is made.
        for (var v = from; v <= end; v++) fixture.Log.Append(v, ReplacingTerm, LogFixture.Payload(v, 8));
        fixture.Log.Sync();
        Assert.Equal(SegmentOf(fixture, from), fixture.SegmentFiles()[^1]);
        fixture.Log.Dispose();
        cut.Restore();

        var reopened = fixture.Reopen();

        Assert.Equal(end, reopened.LastVersion);
        Assert.Equal(ReplacingTerm, reopened.LastTerm);
        var records = reopened.ReadFrom(1).ToList();
        Assert.Equal(Enumerable.Range(1, (int)end).Select(v => (long)v), records.Select(r => r.Version));
        Assert.All(records, r => Assert.Equal(r.Version < from ? 1 : ReplacingTerm, r.Term));
        Assert.All(records, r => Assert.Equal(r.Version < from ? 64 : 8, r.Payload.Length));
    }

    /// <summary>
    /// The records that replaced the suffix were not synced yet when the power went. The log must end before the
    /// dropped version, not hold the dropped records again: the commit a follower wrote down (<c>lease.vote</c>, made
    /// durable with its next vote) may already cover the replacing versions, and a restart replays the log up to it, so
    /// a dropped record back in its place would be applied as committed. Before the truncation was synced the whole old
    /// log came back (the cut-back size and the unlinks lost), as if the node had never heard of the replacement.
    /// </summary>
    [Fact]
    public void A_power_cut_before_the_replacing_records_were_synced_leaves_the_log_ending_before_the_dropped_version()
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        var (from, _) = LogWithAReplaceableSuffix(fixture, replacedTerm: 3);
        var cut = new PowerCut(fixture.Log, fixture.SegmentDirectory, fixture.SyncedPath);

        fixture.Log.TruncateSuffix(from);
        for (var v = from; v < from + 20; v++) fixture.Log.Append(v, ReplacingTerm, LogFixture.Payload(v, 8));
        fixture.Log.Dispose();
        cut.Restore();

        var reopened = fixture.Reopen();

        Assert.Equal(from - 1, reopened.LastVersion);
        Assert.All(reopened.ReadFrom(1), r => Assert.Equal(1, r.Term));
    }

    /// <summary>
    /// The truncation itself is made durable step by step: the synced marker goes down first, then whole segments go,
    /// newest first, then the segment that straddles the version is cut back. A power cut after any step leaves a log
    /// that opens, holding a prefix of what it held (never a hole between segments, never less than the marker).
    /// </summary>
    [Fact]
    public void A_power_cut_at_any_point_of_a_truncation_leaves_a_prefix_of_the_log_that_opens()
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        var (from, _) = LogWithAReplaceableSuffix(fixture, replacedTerm: 3);
        var segments = fixture.SegmentFiles().Length;
        var cut = new PowerCut(fixture.Log, fixture.SegmentDirectory, fixture.SyncedPath);

        fixture.Log.TruncateSuffix(from);

        var last = new List<long>();
        for (var point = 0; point < cut.Points; point++)
        {
            fixture.Log.Dispose();
            cut.Restore(point);
            var reopened = fixture.Reopen();
            var records = reopened.ReadFrom(1).ToList();
            Assert.InRange(reopened.LastVersion, from - 1, 1000);
            Assert.Equal(Enumerable.Range(1, (int)reopened.LastVersion).Select(v => (long)v), records.Select(r => r.Version));
            Assert.All(records, r => Assert.Equal(r.Version < from ? 1 : 3, r.Term));
            last.Add(reopened.LastVersion);
        }
        // The truncation reached the disk by the last point: marker, one unlink per dropped segment, the cut.
        Assert.Equal(from - 1, last[^1]);
        Assert.Equal(1 + 1 + (segments - 3) + 1, cut.Points);
    }

    /// <summary>
    /// A snapshot install that contradicts every record (<c>SnapshotInstall</c>: drop from the snapshot's version, then
    /// save it beyond the log) when every segment starts at or after that version: the save moves the floor, but no
    /// segment is left for it to delete, so it fsyncs nothing in the segment directory. Before the truncation was
    /// synced, a power cut brought the dropped segments back after the snapshot, contradicting it, and they were served.
    /// </summary>
    [Fact]
    public void A_power_cut_after_a_snapshot_install_that_dropped_every_segment_does_not_bring_them_back()
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        fixture.Log.SaveSnapshot(100, 1, [1]);
        for (var v = 101L; v <= 400; v++) fixture.Log.Append(v, 3, LogFixture.Payload(v));
        fixture.Log.Sync();
        Assert.Equal(101, SegmentFormat.ParseFileName(Path.GetFileName(fixture.SegmentFiles()[0])));
        var cut = new PowerCut(fixture.Log, fixture.SegmentDirectory, fixture.SyncedPath);

        // The holder's snapshot at 101 is of term 2; record 101 here is of term 3.
        fixture.Log.TruncateSuffix(101);
        fixture.Log.SaveSnapshot(101, 2, [2]);
        fixture.Log.Dispose();
        cut.Restore();

        var reopened = fixture.Reopen();

        Assert.Equal(101, reopened.LastVersion);
        Assert.Equal(2, reopened.LastTerm);
        Assert.Empty(reopened.ReadFrom(102));
        Assert.Empty(fixture.SegmentFiles());
    }

    /// <summary>
    /// Versions 1 to 1000 over about ten segments, all synced: those of term 1, then from <c>From</c> (ten records into
    /// the third segment) those a deposed holder of <paramref name="replacedTerm"/> left. <c>Next</c>: the first version
    /// of the fourth segment.
    /// </summary>
    private static (long From, long Next) LogWithAReplaceableSuffix(LogFixture fixture, long replacedTerm)
    {
        long v = 0;
        while (fixture.SegmentFiles().Length < 3) fixture.Log.Append(++v, 1, LogFixture.Payload(v));
        for (var i = 0; i < 10; i++) fixture.Log.Append(++v, 1, LogFixture.Payload(v));
        long from = v + 1;
        for (v = from; v <= 1000; v++) fixture.Log.Append(v, replacedTerm, LogFixture.Payload(v));
        fixture.Log.Sync();
        var starts = fixture.SegmentFiles().Select(f => SegmentFormat.ParseFileName(Path.GetFileName(f))!.Value).ToList();
        Assert.True(starts.Count >= 6, $"only {starts.Count} segments");
        return (from, starts[3]);
    }

    private static string SegmentOf(LogFixture fixture, long version) =>
        fixture.SegmentFiles().Last(f => SegmentFormat.ParseFileName(Path.GetFileName(f)) <= version);
}
