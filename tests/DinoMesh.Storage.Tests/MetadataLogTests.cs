using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;
using Microsoft.Data.Sqlite;

namespace DinoMesh.Storage.Tests;

public sealed class MetadataLogTests
{
    [Fact]
    public void EmptyLog_HasVersionZero()
    {
        using var fixture = new LogFixture();

        Assert.Equal(0, fixture.Log.LastVersion);
        Assert.Equal(0, fixture.Log.LastTerm);
        Assert.Equal(0, fixture.Log.SnapshotVersion);
        Assert.Equal(1, fixture.Log.FirstVersion);
        Assert.Empty(fixture.Log.ReadFrom(1));
        Assert.Null(fixture.Log.LoadSnapshot());
    }

    [Fact]
    public void Appends_RollOverSeveralSegments_AndSurviveAReopen()
    {
        using var fixture = new LogFixture(segmentSize: 4096);
        fixture.AppendRange(1, 300);

        // 64-byte payloads make 88-byte records: a 4 KiB segment takes ~47 of them before the next one starts.
        var segments = fixture.SegmentFiles();
        Assert.True(segments.Length >= 6, $"expected several segments, found {segments.Length}");
        Assert.Equal("00000000000000000001.seg", Path.GetFileName(segments[0]));
        fixture.Reopen();
        fixture.AppendRange(301, 310);
        Assert.Equal(310, fixture.Log.LastVersion);
        Assert.Equal(Enumerable.Range(1, 310).Select(v => (long)v), fixture.Log.ReadFrom(1).Select(r => r.Version));
        Assert.All(fixture.Log.ReadFrom(1), r => Assert.Equal(LogFixture.Payload(r.Version), r.Payload));
    }

    [Fact]
    public void Append_ThenReadFrom_ReturnsTheRecordsInOrder()
    {
        using var fixture = new LogFixture();

        fixture.Log.Append(1, 1, LogFixture.Payload(1));
        fixture.Log.Append(2, 1, LogFixture.Payload(2));
        fixture.Log.Append(3, 2, LogFixture.Payload(3));

        Assert.Equal(3, fixture.Log.LastVersion);
        Assert.Equal(2, fixture.Log.LastTerm);
        var records = fixture.Log.ReadFrom(1).ToList();
        Assert.Equal([1L, 2, 3], records.Select(r => r.Version));
        Assert.Equal([1L, 1, 2], records.Select(r => r.Term));
        Assert.All(records, r => Assert.Equal(LogFixture.Payload(r.Version), r.Payload));
        Assert.Equal([2L, 3], fixture.Log.ReadFrom(2).Select(r => r.Version));
        Assert.Empty(fixture.Log.ReadFrom(4));
    }

    [Fact]
    public void ReadFrom_StreamsAcrossPages()
    {
        using var fixture = new LogFixture();
        var batch = Enumerable.Range(1, 2000).Select(v => new LogRecord(v, 1, LogFixture.Payload(v, 16))).ToList();
        fixture.Log.AppendBatch(batch);

        var versions = fixture.Log.ReadFrom(7).Select(r => r.Version).ToList();

        Assert.Equal(Enumerable.Range(7, 1994).Select(v => (long)v), versions);
    }

    [Fact]
    public void Append_AnEmptyPayload_RoundTrips()
    {
        using var fixture = new LogFixture();

        fixture.Log.Append(1, 1, []);

        Assert.Empty(Assert.Single(fixture.Log.ReadFrom(1)).Payload);
    }

    [Fact]
    public void Append_AVersionThatJumpsAhead_IsRejected()
    {
        // Regression: the seed system's check was `version < current + 1`, which let version 5 follow version 3.
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 3);

        var e = Assert.Throws<LogGapException>(() => fixture.Log.Append(5, 1, LogFixture.Payload(5)));

        Assert.Equal(4, e.ExpectedVersion);
        Assert.Equal(5, e.ActualVersion);
        Assert.Equal(3, fixture.Log.LastVersion);
        Assert.Equal([1L, 2, 3], fixture.Log.ReadFrom(1).Select(r => r.Version));
        fixture.Log.Append(4, 1, LogFixture.Payload(4));
        Assert.Equal(4, fixture.Log.LastVersion);
    }

    [Fact]
    public void Append_ToAnEmptyLog_MustStartAtOne()
    {
        using var fixture = new LogFixture();

        Assert.Throws<LogGapException>(() => fixture.Log.Append(2, 1, []));
        Assert.Throws<LogGapException>(() => fixture.Log.Append(0, 1, []));
        Assert.Equal(0, fixture.Log.LastVersion);
    }

    [Fact]
    public void Append_ARepeatedOrOlderVersion_IsRejected()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 3);

        var repeated = Assert.Throws<LogGapException>(() => fixture.Log.Append(3, 1, [9]));
        var older = Assert.Throws<LogGapException>(() => fixture.Log.Append(1, 1, [9]));

        Assert.Equal(4, repeated.ExpectedVersion);
        Assert.Contains("already in the log", repeated.Message, StringComparison.Ordinal);
        Assert.Equal(4, older.ExpectedVersion);
        Assert.Equal(LogFixture.Payload(3), fixture.Log.ReadFrom(3).Single().Payload);
    }

    [Fact]
    public void Append_WithATermGoingBackwards_IsRejected()
    {
        using var fixture = new LogFixture();
        fixture.Log.Append(1, 5, []);

        Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Log.Append(2, 4, []));
        Assert.Equal(1, fixture.Log.LastVersion);
    }

    [Fact]
    public void AppendBatch_AppendsAllConsecutiveRecords()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 2);

        fixture.Log.AppendBatch([new LogRecord(3, 1, [3]), new LogRecord(4, 2, [4]), new LogRecord(5, 2, [5])]);

        Assert.Equal(5, fixture.Log.LastVersion);
        Assert.Equal(2, fixture.Log.LastTerm);
        Assert.Equal([1L, 2, 3, 4, 5], fixture.Log.ReadFrom(1).Select(r => r.Version));
    }

    [Theory]
    [InlineData(new long[] { 4, 5 })]      // does not follow the log (last is 2)
    [InlineData(new long[] { 3, 5 })]      // gap inside the batch
    [InlineData(new long[] { 3, 4, 4 })]   // repeat inside the batch
    [InlineData(new long[] { 2, 3 })]      // starts with a version already in the log
    public void AppendBatch_WithAGap_AppendsNothing(long[] versions)
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 2);

        Assert.Throws<LogGapException>(() => fixture.Log.AppendBatch(versions.Select(v => new LogRecord(v, 1, [1])).ToList()));

        Assert.Equal(2, fixture.Log.LastVersion);
        Assert.Equal([1L, 2], fixture.Log.ReadFrom(1).Select(r => r.Version));
    }

    [Fact]
    public void Snapshot_SavedAndLoaded_KeepsOnlyTheNewest()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10, term: 3);

        fixture.Log.SaveSnapshot(4, 3, [4, 4]);
        fixture.Log.SaveSnapshot(8, 3, [8, 8, 8]);
        fixture.Log.SaveSnapshot(6, 3, [6]); // older than the saved one: ignored

        var snapshot = fixture.Log.LoadSnapshot();
        Assert.Equal(new Snapshot(8, 3, [8, 8, 8]).Version, snapshot!.Version);
        Assert.Equal([8, 8, 8], snapshot.State);
        Assert.Equal(3, snapshot.Term);
        Assert.Equal(8, fixture.Log.SnapshotVersion);
        Assert.Equal(10, fixture.Log.LastVersion); // the log still has 9 and 10
        Assert.Equal(1, fixture.Log.FirstVersion);
    }

    [Fact]
    public void Snapshot_BeyondTheLog_ReplacesItAndAppendsContinueAfterIt()
    {
        // A node far behind installs a peer's snapshot, then follows the log from there.
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 3);

        fixture.Log.SaveSnapshot(100, 7, [1, 0, 0]);

        Assert.Equal(100, fixture.Log.LastVersion);
        Assert.Equal(7, fixture.Log.LastTerm);
        Assert.Empty(fixture.Log.ReadFrom(1));
        Assert.Throws<LogGapException>(() => fixture.Log.Append(4, 7, []));
        fixture.Log.Append(101, 7, [1]);
        Assert.Equal([101L], fixture.Log.ReadFrom(101).Select(r => r.Version));
        Assert.Equal(101, fixture.Reopen().LastVersion);
    }

    [Fact]
    public void TruncatePrefix_DropsRecordsTheSnapshotCovers()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.SaveSnapshot(6, [6]);

        Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Log.TruncatePrefix(7));
        fixture.Log.TruncatePrefix(6);

        Assert.Equal(7, fixture.Log.FirstVersion);
        Assert.Equal(10, fixture.Log.LastVersion);
        Assert.Empty(fixture.Log.ReadFrom(3)); // truncated: the caller needs the snapshot
        Assert.Equal([7L, 8, 9, 10], fixture.Log.ReadFrom(7).Select(r => r.Version));
        fixture.Log.Append(11, 1, []);
        Assert.Equal(11, fixture.Reopen().LastVersion);
        Assert.Equal(7, fixture.Log.FirstVersion);
    }

    [Fact]
    public void TruncatePrefix_OfEverything_KeepsTheVersionCount()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 5, term: 2);
        fixture.Log.SaveSnapshot(5, 2, [5]);

        fixture.Log.TruncatePrefix(5);
        var reopened = fixture.Reopen();

        Assert.Equal(5, reopened.LastVersion);
        Assert.Equal(2, reopened.LastTerm);
        Assert.Equal(6, reopened.FirstVersion);
        reopened.Append(6, 2, []);
    }

    [Fact]
    public void KeyValue_SetGetReplaceRemove()
    {
        using var fixture = new LogFixture();

        Assert.Null(fixture.Log.Get("node-id"));
        fixture.Log.Set("node-id", [1, 2, 3]);
        Assert.Equal([1, 2, 3], fixture.Log.Get("node-id"));
        fixture.Log.Set("node-id", [4]);
        Assert.Equal([4], fixture.Log.Get("node-id"));
        fixture.Log.Set("empty", []);
        Assert.Equal([], Assert.IsType<byte[]>(fixture.Log.Get("empty")));
        Assert.True(fixture.Log.Remove("node-id"));
        Assert.False(fixture.Log.Remove("node-id"));
        Assert.Null(fixture.Log.Get("node-id"));
    }

    [Fact]
    public void Reopen_AfterDispose_KeepsEverything()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 20, term: 4);
        fixture.Log.SaveSnapshot(10, 4, [10]);
        fixture.Log.Set("k", [7]);
        fixture.Log.Sync();

        var reopened = fixture.Reopen();

        Assert.Equal(20, reopened.LastVersion);
        Assert.Equal(4, reopened.LastTerm);
        Assert.Equal(10, reopened.SnapshotVersion);
        Assert.Equal([10], reopened.LoadSnapshot()!.State);
        Assert.Equal([7], reopened.Get("k"));
        Assert.Equal(Enumerable.Range(1, 20).Select(v => (long)v), reopened.ReadFrom(1).Select(r => r.Version));
        Assert.Throws<LogGapException>(() => reopened.Append(22, 4, []));
        reopened.Append(21, 4, []);
    }

    [Fact]
    public void Open_ALogWithAFlippedByteInAMiddleRecord_RefusesIt()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 5);
        fixture.Log.Dispose();
        string segment = Assert.Single(fixture.SegmentFiles());
        // Record 3's payload: header 16 bytes, two 88-byte records, then 24 bytes of record header.
        LogFixture.FlipByte(segment, 16 + 2 * 88 + 24 + 10);

        var e = Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());

        Assert.Contains("is damaged", e.Message, StringComparison.Ordinal);
        Assert.Contains(segment, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Open_AFileThatIsNotADatabase_FailsWithOneLine()
    {
        using var temp = new TempDirectory();
        string path = temp.Combine("garbage.db");
        File.WriteAllBytes(path, StoreFixture.Random(8192, seed: 1));

        var e = Assert.Throws<MetadataDamagedException>(() => MetadataLog.Open(path));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Open_KeepsTheEntriesInSegmentsBesideTheDatabase_OwnerOnly()
    {
        using var fixture = new LogFixture();
        Assert.Empty(fixture.SegmentFiles());
        fixture.AppendRange(1, 1);

        string segment = Assert.Single(fixture.SegmentFiles());
        Assert.Equal(Path.Combine(Path.GetDirectoryName(fixture.DbPath)!, "log", "00000000000000000001.seg"), segment);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(segment));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(segment)!));
        Assert.Equal(16 + 24 + 64, new FileInfo(segment).Length);
    }

    [Fact]
    public void Open_ADatabaseOfTheOldFormat_IsRefusedWithOneLine()
    {
        using var temp = new TempDirectory();
        string path = temp.Combine("metadata.db");
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE log(version INTEGER PRIMARY KEY, term INTEGER NOT NULL, payload BLOB NOT NULL)";
            command.ExecuteNonQuery();
        }

        var e = Assert.Throws<IOException>(() => MetadataLog.Open(path));

        Assert.Contains("format changed", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Disposed_Log_RefusesUse()
    {
        using var fixture = new LogFixture();
        fixture.Log.Dispose();

        Assert.Throws<ObjectDisposedException>(() => fixture.Log.Append(1, 1, []));
        Assert.Throws<ObjectDisposedException>(() => fixture.Log.ReadFrom(1));
        Assert.Throws<ObjectDisposedException>(() => fixture.Log.Get("k"));
    }

    [Fact]
    public void ConcurrentAppendersAndReaders_LeaveAGaplessLog()
    {
        using var fixture = new LogFixture();
        var log = fixture.Log;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        int appended = 0;
        var writers = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < 300; i++)
            {
                try
                {
                    // Racing on LastVersion + 1: exactly one racer wins each version, the others get a gap error.
                    long next = log.LastVersion + 1;
                    log.Append(next, 1, LogFixture.Payload(next));
                    Interlocked.Increment(ref appended);
                }
                catch (LogGapException)
                {
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                }
            }
        })).ToList();
        var readers = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < 50; i++)
            {
                long expected = 1;
                foreach (var record in log.ReadFrom(1))
                {
                    if (record.Version != expected++ || !record.Payload.AsSpan().SequenceEqual(LogFixture.Payload(record.Version)))
                        errors.Enqueue(new InvalidDataException($"read {record.Version}"));
                }
            }
        })).ToList();
        foreach (var thread in writers.Concat(readers)) thread.Start();
        foreach (var thread in writers.Concat(readers)) Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "a thread did not finish in 60 s");

        Assert.Empty(errors);
        Assert.True(appended >= 300);
        Assert.Equal(appended, log.LastVersion);
        Assert.Equal(Enumerable.Range(1, appended).Select(v => (long)v), log.ReadFrom(1).Select(r => r.Version));
    }
}
