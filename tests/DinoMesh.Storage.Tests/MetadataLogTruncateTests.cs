using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

// A follower drops entries a later lease holder replaced: the suffix goes, the log goes on from there.
public class MetadataLogTruncateTests
{
    [Theory]
    [InlineData(500)]     // inside a segment
    [InlineData(1)]       // everything
    [InlineData(1000)]    // the last record only
    public void Truncating_a_suffix_drops_it_across_segments_and_appends_continue_after_a_reopen(long from)
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        fixture.AppendRange(1, 1000, term: 1);
        Assert.True(fixture.SegmentFiles().Length > 3);
        fixture.Log.TruncateSuffix(from);
        Assert.Equal(from - 1, fixture.Log.LastVersion);
        Assert.Equal(from == 1 ? 0 : 1, fixture.Log.LastTerm);
        Assert.Equal(from - 1, fixture.Log.ReadFrom(1).Count());
        for (var v = from; v < from + 300; v++) fixture.Log.Append(v, 2, LogFixture.Payload(v, 80));
        var reopened = fixture.Reopen();
        Assert.Equal(from + 299, reopened.LastVersion);
        var records = reopened.ReadFrom(1).ToList();
        Assert.Equal(Enumerable.Range(1, (int)from + 299).Select(i => (long)i), records.Select(r => r.Version));
        Assert.All(records, r => Assert.Equal(r.Version < from ? 1 : 2, r.Term));
        Assert.All(records.Where(r => r.Version >= from), r => Assert.Equal(80, r.Payload.Length));
        Assert.Equal(2, reopened.TermAt(from));
        Assert.Equal(from == 1 ? 0 : 1, reopened.TermAt(from - 1));
    }

    [Fact]
    public void What_a_snapshot_covers_cannot_be_truncated()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 20);
        fixture.Log.SaveSnapshot(10, 1, [1, 2, 3]);
        Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Log.TruncateSuffix(10));
        fixture.Log.TruncateSuffix(11);
        Assert.Equal(10, fixture.Log.LastVersion);
        Assert.Equal(1, fixture.Log.TermAt(10));
    }

    // Regression: lowering log.synced wrote one of its two slots, and open takes the higher of them, so a restart (a
    // clean one too) after a truncation below the synced version and before the next Sync was refused as a lost log.
    [Fact]
    public void A_truncation_below_the_synced_version_is_not_taken_for_a_lost_log_at_the_next_open()
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        fixture.AppendRange(1, 1000, term: 1);
        fixture.Log.Sync();
        fixture.Log.TruncateSuffix(500);

        var reopened = fixture.Reopen();

        Assert.Equal(499, reopened.LastVersion);
        reopened.Append(500, 2, LogFixture.Payload(500));
        reopened.Sync();
        Assert.Equal(500, fixture.Reopen().LastVersion);
    }
}
