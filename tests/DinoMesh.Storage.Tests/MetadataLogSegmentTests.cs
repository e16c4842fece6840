using System.Buffers.Binary;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;

namespace DinoMesh.Storage.Tests;

/// <summary>The segment files under meta/log/: recovery at open, rolling, truncation and a full disk.</summary>
public sealed class MetadataLogSegmentTests
{
    /// <summary>Header, then records of 24 + 64 bytes (LogFixture's default payload).</summary>
    private const int HeaderSize = 16, RecordSize = 24 + 64;

    private static void AppendBytes(string path, ReadOnlySpan<byte> bytes)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(file, bytes, RandomAccess.GetLength(file));
    }

    private static void WriteAt(string path, long offset, ReadOnlySpan<byte> bytes)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(file, bytes, offset);
    }

    /// <summary>The first <paramref name="length"/> bytes of what an append of <paramref name="version"/> would write.</summary>
    private static byte[] PartialRecord(long version, int length)
    {
        var record = new byte[RecordSize];
        BinaryPrimitives.WriteUInt32LittleEndian(record, 64);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), 0xDEADBEEF);
        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(8), version);
        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(16), 1);
        LogFixture.Payload(version).CopyTo(record, 24);
        return record[..length];
    }

    private static void AssertHolds(MetadataLog log, long from, long to)
    {
        Assert.Equal(to, log.LastVersion);
        var records = log.ReadFrom(from).ToList();
        Assert.Equal(Enumerable.Range((int)from, (int)(to - from + 1)).Select(v => (long)v), records.Select(r => r.Version));
        Assert.All(records, r => Assert.Equal(LogFixture.Payload(r.Version), r.Payload));
    }

    [Theory]
    [InlineData(10)]          // inside the record header
    [InlineData(24 + 30)]     // inside the payload
    public void TornTail_APartialRecordAtTheEnd_IsCutOff_AndAppendsContinue(int tornLength)
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.Dispose();
        string segment = Assert.Single(fixture.SegmentFiles());
        long whole = new FileInfo(segment).Length;
        AppendBytes(segment, PartialRecord(11, tornLength));

        var log = fixture.Reopen();

        AssertHolds(log, 1, 10);
        Assert.Equal(whole, new FileInfo(segment).Length);
        log.Append(11, 1, LogFixture.Payload(11));
        AssertHolds(fixture.Reopen(), 1, 11);
    }

    [Fact]
    public void TornTail_ZerosAfterTheLastRecord_AreCutOff()
    {
        // What a power cut can leave: the file size was updated, its last pages were not.
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.Dispose();
        string segment = Assert.Single(fixture.SegmentFiles());
        long whole = new FileInfo(segment).Length;
        AppendBytes(segment, new byte[3000]);

        var log = fixture.Reopen();

        AssertHolds(log, 1, 10);
        Assert.Equal(whole, new FileInfo(segment).Length);
        log.Append(11, 1, LogFixture.Payload(11));
        AssertHolds(fixture.Reopen(), 1, 11);
    }

    [Fact]
    public void TornTail_TheLastRecordFailingItsChecksum_IsCutOff()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.Dispose();
        string segment = Assert.Single(fixture.SegmentFiles());
        LogFixture.FlipByte(segment, HeaderSize + 9 * RecordSize + 24 + 40);

        var log = fixture.Reopen();

        AssertHolds(log, 1, 9);
        Assert.Equal(HeaderSize + 9 * RecordSize, new FileInfo(segment).Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Garbage_InTheMiddleOfTheLastSegment_FollowedByValidRecords_IsDamage(bool zeros)
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.Dispose();
        string segment = Assert.Single(fixture.SegmentFiles());
        long length = new FileInfo(segment).Length;
        WriteAt(segment, HeaderSize + 4 * RecordSize, zeros ? new byte[RecordSize] : StoreFixture.Random(RecordSize, seed: 7));

        var e = Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());

        Assert.Contains("is damaged", e.Message, StringComparison.Ordinal);
        Assert.Contains(segment, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(length, new FileInfo(segment).Length); // refused, not "repaired"
    }

    [Fact]
    public void Rolling_ReadFromAcrossSegments_AndFirstVersionAfterTruncatePrefixAndReopen()
    {
        using var fixture = new LogFixture(segmentSize: 4096);
        fixture.AppendRange(1, 400);
        fixture.Log.AppendBatch(Enumerable.Range(401, 100).Select(v => new LogRecord(v, 2, LogFixture.Payload(v))).ToList());
        int before = fixture.SegmentFiles().Length;

        AssertHolds(fixture.Log, 123, 500);
        fixture.Log.SaveSnapshot(300, 1, [3]);
        fixture.Log.TruncatePrefix(300);

        var remaining = fixture.SegmentFiles();
        Assert.True(remaining.Length < before, $"{before} segments before the truncation, {remaining.Length} after");
        long firstKept = long.Parse(Path.GetFileNameWithoutExtension(remaining[0]), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(firstKept <= 301 && firstKept > 250, $"the oldest segment kept starts at {firstKept}");
        Assert.Equal(301, fixture.Log.FirstVersion);
        Assert.Empty(fixture.Log.ReadFrom(300));
        Assert.Empty(fixture.Log.ReadFrom(firstKept)); // still in a file, but below the floor
        AssertHolds(fixture.Log, 301, 500);

        var log = fixture.Reopen();
        Assert.Equal(301, log.FirstVersion);
        Assert.Equal(2, log.LastTerm);
        Assert.Empty(log.ReadFrom(299));
        AssertHolds(log, 301, 500);
        log.Append(501, 2, LogFixture.Payload(501));
        AssertHolds(log, 450, 501);
    }

    [Fact]
    public void ReadFrom_UsesTheIndexDeepInALargeSegment()
    {
        using var fixture = new LogFixture();
        fixture.Log.AppendBatch(Enumerable.Range(1, 3000).Select(v => new LogRecord(v, 1, LogFixture.Payload(v))).ToList());

        AssertHolds(fixture.Log, 2777, 3000);
        AssertHolds(fixture.Log, 256, 3000);
        AssertHolds(fixture.Log, 257, 3000);
        Assert.Equal([3000L], fixture.Log.ReadFrom(3000).Select(r => r.Version));
        Assert.Empty(fixture.Log.ReadFrom(3001));
    }

    [Fact]
    public void ReadFrom_IncludesRecordsAppendedWhileEnumerating_AcrossNewSegments()
    {
        using var fixture = new LogFixture(segmentSize: 4096);
        fixture.AppendRange(1, 100);

        var seen = new List<long>();
        foreach (var record in fixture.Log.ReadFrom(1))
        {
            seen.Add(record.Version);
            if (record.Version == 50) fixture.AppendRange(101, 300);
            Assert.True(seen.Count <= 300, "read past the end");
        }

        Assert.Equal(Enumerable.Range(1, 300).Select(v => (long)v), seen);
    }

    [Fact]
    public void ReadFrom_EndsQuietly_WhenItsSegmentsAreDeletedUnderIt()
    {
        using var fixture = new LogFixture(segmentSize: 4096);
        fixture.AppendRange(1, 200);

        var seen = new List<long>();
        foreach (var record in fixture.Log.ReadFrom(1))
        {
            seen.Add(record.Version);
            if (record.Version == 10) fixture.Log.SaveSnapshot(1000, 1, [1]);
            Assert.True(seen.Count <= 200, "read past the end");
        }

        // Whatever it read before noticing is a gapless run from 1; it stops within the segment it was in.
        Assert.Equal(Enumerable.Range(1, seen.Count).Select(v => (long)v), seen);
        Assert.True(seen.Count < 200, $"it read all {seen.Count} records of deleted segments");
        Assert.Empty(fixture.SegmentFiles());
    }

    [Fact]
    public void SnapshotBeyondTheLog_WithStaleSegmentsLeftBehind_ReopensConsistent()
    {
        using var fixture = new LogFixture(segmentSize: 4096);
        using var aside = new TempDirectory();
        fixture.AppendRange(1, 200);
        var stale = fixture.SegmentFiles();
        Assert.True(stale.Length >= 3);
        foreach (string file in stale) File.Copy(file, aside.Combine(Path.GetFileName(file)));

        fixture.Log.SaveSnapshot(500, 3, [5]);
        Assert.Empty(fixture.SegmentFiles());
        fixture.Log.Dispose();
        // As if the process died after the snapshot's commit but before the segments were deleted.
        foreach (string file in stale) File.Copy(aside.Combine(Path.GetFileName(file)), file);

        var log = fixture.Reopen();

        Assert.Empty(fixture.SegmentFiles());
        Assert.Equal(500, log.LastVersion);
        Assert.Equal(3, log.LastTerm);
        Assert.Equal(501, log.FirstVersion);
        Assert.Empty(log.ReadFrom(1));
        Assert.Throws<LogGapException>(() => log.Append(201, 3, []));
        log.Append(501, 3, LogFixture.Payload(501));
        log = fixture.Reopen();
        Assert.Equal("00000000000000000501.seg", Path.GetFileName(Assert.Single(fixture.SegmentFiles())));
        AssertHolds(log, 501, 501);
    }

    [Fact]
    public void TruncatePrefix_Interrupted_IsFinishedAtOpen()
    {
        using var fixture = new LogFixture(segmentSize: 4096);
        using var aside = new TempDirectory();
        fixture.AppendRange(1, 300);
        fixture.Log.SaveSnapshot(200, 1, [2]);
        var all = fixture.SegmentFiles();
        foreach (string file in all) File.Copy(file, aside.Combine(Path.GetFileName(file)));

        fixture.Log.TruncatePrefix(200);
        var kept = fixture.SegmentFiles();
        fixture.Log.Dispose();
        foreach (string file in all.Except(kept)) File.Copy(aside.Combine(Path.GetFileName(file)), file);

        var log = fixture.Reopen();

        Assert.Equal(kept, fixture.SegmentFiles());
        Assert.Equal(201, log.FirstVersion);
        AssertHolds(log, 201, 300);
    }

    [Fact]
    public void AHoleBetweenSegments_IsDamage()
    {
        using var fixture = new LogFixture(segmentSize: 4096);
        fixture.AppendRange(1, 200);
        fixture.Log.Dispose();
        var segments = fixture.SegmentFiles();
        File.Delete(segments[1]);

        var e = Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());

        Assert.Contains("is damaged", e.Message, StringComparison.Ordinal);
        Assert.Contains(segments[2], e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingFirstSegment_IsDamage()
    {
        using var fixture = new LogFixture(segmentSize: 4096);
        fixture.AppendRange(1, 200);
        fixture.Log.Dispose();
        File.Delete(fixture.SegmentFiles()[0]);

        var e = Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());

        Assert.Contains("is damaged", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AHeaderThatDoesNotMatchItsName_IsDamage()
    {
        using var fixture = new LogFixture(segmentSize: 4096);
        fixture.AppendRange(1, 200);
        fixture.Log.Dispose();
        string first = fixture.SegmentFiles()[0];
        LogFixture.FlipByte(first, 8);

        var e = Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());

        Assert.Contains("is damaged", e.Message, StringComparison.Ordinal);
        Assert.Contains(first, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ANewestSegmentShorterThanItsHeader_IsDeleted()
    {
        // A creation cut short by a crash: the file exists, its header does not (yet).
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.Dispose();
        string unfinished = Path.Combine(fixture.SegmentDirectory, "00000000000000000011.seg");
        File.WriteAllBytes(unfinished, [0x44, 0x4D, 0x4C]);

        var log = fixture.Reopen();

        Assert.False(File.Exists(unfinished));
        AssertHolds(log, 1, 10);
        log.Append(11, 1, LogFixture.Payload(11));
        AssertHolds(fixture.Reopen(), 1, 11);
    }

    [Fact]
    public void DiskFull_AppendThrowsLogFull_LeavesNoPartialRecord_AndWorksAgainOnceThereIsRoom()
    {
        using var tmpfs = Tmpfs.Mount("2m");
        // No reserve: the write itself meets the full disk, and what part of it fit must be cut off again.
        using var fixture = new LogFixture(segmentSize: 64 * 1024, root: tmpfs.Path, reserve: 0);
        fixture.AppendRange(1, 10);
        string filler = Path.Combine(tmpfs.Path, "filler");
        FillUp(filler);
        string segment = Assert.Single(fixture.SegmentFiles());
        long length = new FileInfo(segment).Length;
        var big = LogFixture.Payload(11, 32 * 1024);

        var single = Assert.Throws<LogFullException>(() => fixture.Log.Append(11, 1, big));
        var batch = Assert.Throws<LogFullException>(() => fixture.Log.AppendBatch([new LogRecord(11, 1, big), new LogRecord(12, 1, big)]));

        Assert.Equal(28, single.HResult);
        Assert.Equal(28, batch.HResult);
        Assert.Equal(10, fixture.Log.LastVersion);
        Assert.Equal(length, new FileInfo(segment).Length); // the part that fit was cut off again
        AssertHolds(fixture.Log, 1, 10);
        // Nor do the records kept in memory hold what the disk refused.
        Assert.Empty(fixture.Log.ReadFrom(11));

        File.Delete(filler);
        fixture.Log.Append(11, 1, big);
        Assert.Equal(big, fixture.Log.ReadFrom(11).Single().Payload);
        fixture.Log.Sync();
        var log = fixture.Reopen();
        Assert.Equal(11, log.LastVersion);
        Assert.Equal(big, log.ReadFrom(11).Single().Payload);
        Assert.Equal(Enumerable.Range(1, 11).Select(v => (long)v), log.ReadFrom(1).Select(r => r.Version));
    }

    [Fact]
    public void DiskFull_WhenANewSegmentIsDue_TheLogGoesOnInTheOldOne_AndLeavesNoEmptySegmentBehind()
    {
        using var tmpfs = Tmpfs.Mount("2m");
        using var fixture = new LogFixture(segmentSize: 4096, root: tmpfs.Path);
        fixture.AppendRange(1, 47);
        while (fixture.SegmentFiles().Length < 2) fixture.AppendRange(fixture.Log.LastVersion + 1, fixture.Log.LastVersion + 1);
        // Fill the segment up to its size, so that the next append has to start a new file.
        long last = fixture.Log.LastVersion;
        string newest = fixture.SegmentFiles()[^1];
        while (new FileInfo(newest).Length < 4096 && last < 1000) fixture.AppendRange(++last, last);
        var before = fixture.SegmentFiles();
        string filler = Path.Combine(tmpfs.Path, "filler");
        FillUp(filler);

        // No room for a new segment: the appends go on in the old one (its allocated room) until that is used up.
        int appended = 0;
        for (; appended < 10_000; appended++)
        {
            try
            {
                fixture.Log.Append(last + 1, 1, LogFixture.Payload(last + 1));
                last++;
            }
            catch (LogFullException)
            {
                break;
            }
        }

        Assert.InRange(appended, 1, 9_999);
        Assert.Equal(before, fixture.SegmentFiles());
        Assert.True(new FileInfo(newest).Length > 4096, "the old segment did not grow past its size");
        File.Delete(filler);
        fixture.AppendRange(last + 1, last + 1);
        Assert.Equal(before.Length + 1, fixture.SegmentFiles().Length);
        AssertHolds(fixture.Reopen(), 1, last + 1);
    }

    [Fact]
    public void DiskFull_TheReserveIsLeftForAppendsThatFreeSpace_AndWorksAgainOnceThereIsRoom()
    {
        using var tmpfs = Tmpfs.Mount("4m");
        using var fixture = new LogFixture(root: tmpfs.Path);
        fixture.AppendRange(1, 10);
        string filler = Path.Combine(tmpfs.Path, "filler");
        FillUp(filler);
        const int Payload = 200, Record = 24 + Payload;
        long last = 10;
        bool TryAppend(bool mayUseReserve)
        {
            try
            {
                fixture.Log.Append(last + 1, 1, LogFixture.Payload(last + 1, Payload), mayUseReserve);
                last++;
                return true;
            }
            catch (LogFullException)
            {
                return false;
            }
        }

        int ordinary = 0;
        while (ordinary < 100_000 && TryAppend(mayUseReserve: false)) ordinary++;
        int freeing = 0;
        while (freeing < 100_000 && TryAppend(mayUseReserve: true)) freeing++;

        Assert.InRange(ordinary, 0, 99_999);
        // What the freeing appends got is the reserve, to within a record.
        Assert.InRange((long)freeing * Record, LogFixture.SmallReserve - Record, LogFixture.SmallReserve + Record);
        Assert.False(TryAppend(mayUseReserve: false));
        File.Delete(filler);
        Assert.True(TryAppend(mayUseReserve: false));
        AssertHoldsVersions(fixture.Reopen(), last);
    }

    private static void AssertHoldsVersions(MetadataLog log, long last)
    {
        Assert.Equal(last, log.LastVersion);
        Assert.Equal(Enumerable.Range(1, (int)last).Select(v => (long)v), log.ReadFrom(1).Select(r => r.Version));
    }

    /// <summary>Writes a file until the filesystem is full (bounded: a tmpfs of a few MiB).</summary>
    private static void FillUp(string path)
    {
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        var block = new byte[4096];
        long offset = 0;
        for (int i = 0; i < 100_000; i++)
        {
            try
            {
                RandomAccess.Write(file, block, offset);
                offset += block.Length;
            }
            catch (IOException)
            {
                return;
            }
        }
        Assert.Fail("the filesystem never filled up");
    }
}
