using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// Dropping the segments a snapshot covers may fail for one of them (here for real: the file is immutable, so its
/// unlink fails with EPERM). The drop must not be silent, and the segment's space must come back at a later drop once
/// the cause is gone, not only at the next start.
/// </summary>
public sealed class MetadataLogUndeletedSegmentTests
{
    [Fact]
    public void A_covered_segment_that_cannot_be_deleted_is_reported_and_deleted_at_a_later_drop()
    {
        using var fixture = new LogFixture(segmentSize: 8 * 1024);
        var logger = new ListLogger();
        var log = fixture.Reopen(logger);
        fixture.AppendRange(1, 1000, term: 1);
        log.Sync();
        log.SaveSnapshot(500, 1, [5]);
        string stuck = fixture.SegmentFiles().First();
        using var pinned = ImmutableFile.Pin(stuck);

        log.TruncatePrefix(500);

        Assert.True(File.Exists(stuck));
        var warning = Assert.Single(logger.At(LogLevel.Warning));
        Assert.Contains(stuck, warning);
        Assert.Contains("could not delete", warning);
        Assert.Equal(501, log.FirstVersion);

        pinned.Dispose();
        log.SaveSnapshot(800, 1, [8]);
        log.TruncatePrefix(800);

        Assert.False(File.Exists(stuck), "the segment whose delete failed is still there after a later drop");
        Assert.Contains(logger.At(LogLevel.Information), m => m.Contains(stuck) && m.Contains("at last"));
    }
}
