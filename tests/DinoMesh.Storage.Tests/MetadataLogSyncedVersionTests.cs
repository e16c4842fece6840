using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// What an fsync promised must not vanish at open. A torn tail after a crash is normal and is cut; losing records up
/// to the newest version a Sync made durable is damage: the log refuses to open, with one line that says which
/// versions are missing and what to do, and leaves the files exactly as it found them.
/// </summary>
public sealed class MetadataLogSyncedVersionTests
{
    private const int HeaderSize = 16, RecordSize = 24 + 64;

    /// <summary>Versions 1..10 appended and synced, then closed.</summary>
    private static (LogFixture Fixture, string Segment) SyncedLog()
    {
        var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.Sync();
        fixture.Log.Dispose();
        return (fixture, Assert.Single(fixture.SegmentFiles()));
    }

    private static void Cut(string path, long length)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.SetLength(file, length);
    }

    /// <summary>The open fails with one line naming the missing versions and a way out, and changes no file.</summary>
    private static void AssertRefused(LogFixture fixture, string segment, long endsAt)
    {
        long? lengthBefore = File.Exists(segment) ? new FileInfo(segment).Length : null;
        var e = Assert.ThrowsAny<IOException>(() => fixture.Reopen());
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("10", e.Message, StringComparison.Ordinal);
        Assert.Contains(endsAt.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Contains("fsync", e.Message, StringComparison.Ordinal);
        Assert.Contains("move", e.Message, StringComparison.Ordinal);
        long? lengthAfter = File.Exists(segment) ? new FileInfo(segment).Length : null;
        Assert.Equal(lengthBefore, lengthAfter);
    }

    [Fact]
    public void SyncedRecords_CutMidRecord_RefuseToOpen()
    {
        var (fixture, segment) = SyncedLog();
        using var _ = fixture;
        Cut(segment, HeaderSize + (RecordSize * 7) + 30);
        AssertRefused(fixture, segment, endsAt: 7);
    }

    [Fact]
    public void SyncedRecords_CutAtARecordBoundary_RefuseToOpen()
    {
        var (fixture, segment) = SyncedLog();
        using var _ = fixture;
        Cut(segment, HeaderSize + (RecordSize * 6));
        AssertRefused(fixture, segment, endsAt: 6);
    }

    [Fact]
    public void SyncedSegment_CutTo10Bytes_RefusesToOpen_AndIsNotDeleted()
    {
        var (fixture, segment) = SyncedLog();
        using var _ = fixture;
        Cut(segment, 10);
        AssertRefused(fixture, segment, endsAt: 0);
        Assert.True(File.Exists(segment));
    }

    [Fact]
    public void SyncedSegment_Deleted_RefusesToOpen()
    {
        var (fixture, segment) = SyncedLog();
        using var _ = fixture;
        File.Delete(segment);
        AssertRefused(fixture, segment, endsAt: 0);
    }

    [Fact]
    public void SyncedLastRecord_WithABitFlipped_RefusesToOpen()
    {
        var (fixture, segment) = SyncedLog();
        using var _ = fixture;
        LogFixture.FlipByte(segment, HeaderSize + (RecordSize * 9) + 40);
        AssertRefused(fixture, segment, endsAt: 9);
    }
}
