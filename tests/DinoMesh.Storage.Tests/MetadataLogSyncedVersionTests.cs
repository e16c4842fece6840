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
    private static void AssertRefused(LogFixture fixture, string segment, long endsAt, long synced = 10)
    {
        long? lengthBefore = File.Exists(segment) ? new FileInfo(segment).Length : null;
        var e = Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains($"versions up to {synced}", e.Message, StringComparison.Ordinal);
        Assert.Contains(fixture.SyncedPath, e.Message, StringComparison.Ordinal);
        Assert.Contains($"ends at version {endsAt}", e.Message, StringComparison.Ordinal);
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

    [Fact]
    public void AnUnsyncedTornTail_IsCut_WithAWarningNamingTheVersionsDropped()
    {
        var (fixture, segment) = SyncedLog();
        using var _ = fixture;
        var log = fixture.Reopen();
        log.Append(11, 1, LogFixture.Payload(11));
        log.Append(12, 1, LogFixture.Payload(12));
        log.Dispose();
        Cut(segment, HeaderSize + (RecordSize * 11) + 30);
        var logger = new ListLogger();

        log = fixture.Reopen(logger);

        Assert.Equal(11, log.LastVersion);
        var warning = Assert.Single(logger.At(Microsoft.Extensions.Logging.LogLevel.Warning));
        Assert.Contains(segment, warning, StringComparison.Ordinal);
        Assert.Contains("versions from 12 on", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnsyncedNewestSegment_CutShort_IsDeleted_WithAWarning()
    {
        using var fixture = new LogFixture(segmentSize: 1024);
        fixture.AppendRange(1, 30);
        fixture.Log.Sync();
        var synced = fixture.Log.LastVersion;
        static long First(string segment) => long.Parse(Path.GetFileNameWithoutExtension(segment), System.Globalization.CultureInfo.InvariantCulture);
        // Appends (not synced) until a new segment starts past the synced version.
        for (var i = 0; i < 100 && First(fixture.SegmentFiles()[^1]) <= synced; i++) fixture.AppendRange(fixture.Log.LastVersion + 1, fixture.Log.LastVersion + 1);
        var newest = fixture.SegmentFiles()[^1];
        fixture.Log.Dispose();
        var first = First(newest);
        Assert.True(first > synced, "the newest segment must hold only unsynced versions");
        Cut(newest, 10);
        var logger = new ListLogger();

        var log = fixture.Reopen(logger);

        Assert.Equal(first - 1, log.LastVersion);
        Assert.False(File.Exists(newest));
        Assert.Contains($"versions from {first} on", Assert.Single(logger.At(Microsoft.Extensions.Logging.LogLevel.Warning)), StringComparison.Ordinal);
    }

    [Fact]
    public void TheSyncedVersion_IsKeptOwnerOnly_AndAMissingFileOnlyLosesTheCheck()
    {
        var (fixture, segment) = SyncedLog();
        using var _ = fixture;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(fixture.SyncedPath));
        File.Delete(fixture.SyncedPath);
        Cut(segment, HeaderSize + (RecordSize * 7));

        var log = fixture.Reopen();

        Assert.Equal(7, log.LastVersion);
        log.Append(8, 1, LogFixture.Payload(8));
        log.Sync();
        log.Dispose();
        Cut(segment, HeaderSize + (RecordSize * 5));
        AssertRefused(fixture, segment, endsAt: 5, synced: 8);
    }

    [Fact]
    public void ATornWriteOfTheSyncedVersion_FallsBackToTheVersionBefore()
    {
        var (fixture, segment) = SyncedLog();
        using var _ = fixture;
        var log = fixture.Reopen();
        fixture.AppendRange(11, 20);
        log.Sync();
        log.Dispose();
        // The second Sync wrote the second slot; spoil it as a power cut in the middle of that write could.
        LogFixture.FlipByte(fixture.SyncedPath, 32 + 9);
        Cut(segment, HeaderSize + (RecordSize * 15));

        log = fixture.Reopen();

        Assert.Equal(15, log.LastVersion);
        log.Dispose();
        Cut(segment, HeaderSize + (RecordSize * 9));
        AssertRefused(fixture, segment, endsAt: 9, synced: 10);
    }

    [Fact]
    public void BothSlotsSpoiled_OpensWithAWarning_AndTheNextSyncRecordsAgain()
    {
        var (fixture, segment) = SyncedLog();
        using var _ = fixture;
        File.WriteAllBytes(fixture.SyncedPath, Enumerable.Repeat((byte)0x77, 64).ToArray());
        var logger = new ListLogger();

        var log = fixture.Reopen(logger);

        Assert.Equal(10, log.LastVersion);
        Assert.Contains(fixture.SyncedPath, Assert.Single(logger.At(Microsoft.Extensions.Logging.LogLevel.Warning)), StringComparison.Ordinal);
        log.Append(11, 1, LogFixture.Payload(11));
        log.Sync();
        log.Dispose();
        Cut(segment, HeaderSize + (RecordSize * 10));
        AssertRefused(fixture, segment, endsAt: 10, synced: 11);
    }
}
