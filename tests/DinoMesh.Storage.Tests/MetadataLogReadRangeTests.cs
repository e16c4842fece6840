using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// The apply of committed entries reads the log without the driver's lock, while a truncation of uncommitted entries
/// and the appends that replace them may rewrite the bytes just past the commit. <see cref="MetadataLog.ReadRange"/>
/// ends at its last version without reading the record after it, so those bytes are never looked at.
/// </summary>
public sealed class MetadataLogReadRangeTests
{
    /// <summary>Header, then records of 24 + 64 bytes (LogFixture's default payload).</summary>
    private const int HeaderSize = 16, RecordSize = 24 + 64;

    /// <summary>A log of 1..10 reopened (so reads come from the segment file, not from memory) whose record 8 is then torn.</summary>
    private static MetadataLog LogWithRecord8Torn(LogFixture fixture)
    {
        fixture.AppendRange(1, 10);
        fixture.Log.Dispose();
        var log = fixture.Reopen();
        LogFixture.FlipByte(Assert.Single(fixture.SegmentFiles()), HeaderSize + 7 * RecordSize + 24 + 10);
        return log;
    }

    [Fact]
    public void A_range_ending_before_a_torn_record_reads_every_record_of_the_range_and_never_the_torn_one()
    {
        using var fixture = new LogFixture();
        var log = LogWithRecord8Torn(fixture);

        var records = log.ReadRange(1, 7).ToList();

        Assert.Equal(Enumerable.Range(1, 7).Select(v => (long)v), records.Select(r => r.Version));
        Assert.All(records, r => Assert.Equal(LogFixture.Payload(r.Version), r.Payload));
        // The unbounded read stopped by its consumer (the apply's old loop) has already read record 8 when it stops.
        Assert.Throws<MetadataDamagedException>(() =>
        {
            foreach (var record in log.ReadFrom(1)) if (record.Version > 7) break;
        });
    }

    [Fact]
    public void A_range_is_served_from_memory_and_from_disk_alike_and_ends_at_its_last_version()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 300);
        Assert.Equal(Enumerable.Range(100, 101).Select(v => (long)v), fixture.Log.ReadRange(100, 200).Select(r => r.Version));
        Assert.Empty(fixture.Log.ReadRange(201, 200));

        fixture.Log.Dispose();
        var log = fixture.Reopen();
        Assert.Equal(Enumerable.Range(100, 101).Select(v => (long)v), log.ReadRange(100, 200).Select(r => r.Version));
        Assert.Equal([300L], log.ReadRange(300, 1000).Select(r => r.Version));
    }
}
