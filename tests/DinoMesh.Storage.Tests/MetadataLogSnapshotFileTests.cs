using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Storage.Tests;

/// <summary>
/// A snapshot's bytes live in a file of their own under <c>meta/snapshots/</c>, written before the log's write lock is
/// taken; a crash at any step leaves a loadable snapshot that agrees with the log. The crash states are made by copying
/// the files at the instant in question (what kill -9 leaves: the page cache) or by putting back a file a step deleted.
/// </summary>
public sealed class MetadataLogSnapshotFileTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public void Appends_go_on_while_a_save_writes_its_file()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        bool appendedMeanwhile = false;
        fixture.Log.SnapshotFileWritten = _ =>
        {
            // Another thread, so the lock's re-entrance cannot help: if the save held the write lock here, this append
            // would wait for the save, which waits for it.
            var append = Task.Run(() => fixture.Log.Append(11, 1, LogFixture.Payload(11)), TestContext.Current.CancellationToken);
            appendedMeanwhile = append.Wait(Patience, TestContext.Current.CancellationToken);
        };

        fixture.Log.SaveSnapshot(10, 1, Payload(10, 100_000));

        Assert.True(appendedMeanwhile, "an append waited for the snapshot's file to be written");
        Assert.Equal(11, fixture.Log.LastVersion);
        Assert.Equal(Payload(10, 100_000), fixture.Log.LoadSnapshot()!.State);
    }

    [Fact]
    public void Snapshot_bytes_are_in_their_own_file_and_not_in_the_database()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);

        fixture.Log.SaveSnapshot(10, 1, Payload(10, 300_000));
        fixture.Log.Dispose();

        Assert.Equal(["00000000000000000010.snap"], fixture.SnapshotFiles());
        using var db = OpenDatabase(fixture.DbPath);
        using var command = db.CreateCommand();
        command.CommandText = "SELECT version, term, length(payload), file FROM snapshot";
        using var row = command.ExecuteReader();
        Assert.True(row.Read());
        Assert.Equal((10L, 1L, 0L, "00000000000000000010.snap"), (row.GetInt64(0), row.GetInt64(1), row.GetInt64(2), row.GetString(3)));
        Assert.False(row.Read());
    }

    [Fact]
    public void A_new_snapshot_replaces_the_file_of_the_old_one()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 20, term: 2);

        fixture.Log.SaveSnapshot(10, 2, Payload(10));
        fixture.Log.SaveSnapshot(20, 2, Payload(20));

        Assert.Equal(["00000000000000000020.snap"], fixture.SnapshotFiles());
        Assert.Equal(Payload(20), fixture.Reopen().LoadSnapshot()!.State);
        Assert.Equal(2, fixture.Log.TermAt(20));
    }

    [Fact]
    public void A_crash_while_the_file_is_written_leaves_a_temp_file_that_open_removes()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 20);
        fixture.Log.SaveSnapshot(10, 1, Payload(10));
        fixture.Log.Dispose();
        // Half of the next snapshot's file, under its temp name.
        File.WriteAllBytes(Path.Combine(fixture.SnapshotDirectory, "00000000000000000020.snap.tmp"), Payload(20)[..30]);

        var logger = new ListLogger();
        var log = fixture.Reopen(logger);

        Assert.Equal(["00000000000000000010.snap"], fixture.SnapshotFiles());
        Assert.Equal(10, log.SnapshotVersion);
        Assert.Equal(Payload(10), log.LoadSnapshot()!.State);
        Assert.Contains(logger.At(LogLevel.Warning), m => m.Contains("00000000000000000020.snap.tmp", StringComparison.Ordinal));
        log.SaveSnapshot(20, 1, Payload(20));
        Assert.Equal(Payload(20), fixture.Reopen().LoadSnapshot()!.State);
    }

    [Fact]
    public void A_crash_after_the_file_is_written_but_before_it_is_named_keeps_the_old_snapshot()
    {
        using var fixture = new LogFixture();
        using var crashed = new TempDirectory();
        fixture.AppendRange(1, 20);
        fixture.Log.SaveSnapshot(10, 1, Payload(10));
        fixture.Log.SnapshotFileWritten = _ => CopyDirectory(MetaOf(fixture), crashed.Combine("meta"));

        fixture.Log.SaveSnapshot(20, 1, Payload(20));

        Assert.Equal(["00000000000000000010.snap", "00000000000000000020.snap"], Files(crashed.Combine("meta", "snapshots")));
        var logger = new ListLogger();
        using var log = MetadataLog.Open(crashed.Combine("meta", "metadata.db"), MetadataLog.DefaultSegmentSize, logger, LogFixture.SmallReserve);
        Assert.Equal(10, log.SnapshotVersion);
        Assert.Equal(Payload(10), log.LoadSnapshot()!.State);
        Assert.Equal(20, log.LastVersion);
        Assert.Equal(["00000000000000000010.snap"], Files(crashed.Combine("meta", "snapshots")));
        Assert.Contains(logger.At(LogLevel.Warning), m => m.Contains("00000000000000000020.snap", StringComparison.Ordinal));
    }

    [Fact]
    public void A_crash_before_a_snapshot_beyond_the_log_is_named_keeps_the_log_as_it_was()
    {
        using var fixture = new LogFixture(segmentSize: 4096);
        using var crashed = new TempDirectory();
        fixture.AppendRange(1, 200, term: 2);
        fixture.Log.SnapshotFileWritten = _ => CopyDirectory(MetaOf(fixture), crashed.Combine("meta"));

        fixture.Log.SaveSnapshot(500, 3, Payload(500));

        using var log = MetadataLog.Open(crashed.Combine("meta", "metadata.db"), 4096, reserve: LogFixture.SmallReserve);
        Assert.Equal(0, log.SnapshotVersion);
        Assert.Null(log.LoadSnapshot());
        Assert.Equal(200, log.LastVersion);
        Assert.Equal(2, log.LastTerm);
        Assert.Equal(Enumerable.Range(1, 200).Select(v => (long)v), log.ReadFrom(1).Select(r => r.Version));
        Assert.Empty(Files(crashed.Combine("meta", "snapshots")));
        // And the save that did finish: the snapshot is current and the log continues after it.
        var reopened = fixture.Reopen();
        Assert.Equal(500, reopened.LastVersion);
        Assert.Equal(3, reopened.TermAt(500));
        Assert.Equal(Payload(500), reopened.LoadSnapshot()!.State);
    }

    [Fact]
    public void A_crash_after_the_new_snapshot_is_named_leaves_the_old_file_which_open_removes()
    {
        using var fixture = new LogFixture();
        using var aside = new TempDirectory();
        string ten = SaveTenThenTwentyKeepingACopyOfTen(fixture, aside);

        // As if the process died after the new row's commit but before the old file was deleted.
        File.Copy(ten, Path.Combine(fixture.SnapshotDirectory, "00000000000000000010.snap"));

        var log = fixture.Reopen();

        Assert.Equal(["00000000000000000020.snap"], fixture.SnapshotFiles());
        Assert.Equal(20, log.SnapshotVersion);
        Assert.Equal(Payload(20), log.LoadSnapshot()!.State);
    }

    [Fact]
    public void A_snapshot_file_that_is_missing_is_refused_at_open()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.SaveSnapshot(10, 1, Payload(10));
        fixture.Log.Dispose();
        File.Delete(Path.Combine(fixture.SnapshotDirectory, "00000000000000000010.snap"));

        var e = Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());

        Assert.Contains("00000000000000000010.snap", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_snapshot_file_with_a_flipped_byte_is_refused()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 10);
        fixture.Log.SaveSnapshot(10, 1, Payload(10, 1000));
        fixture.Log.Dispose();
        string file = Path.Combine(fixture.SnapshotDirectory, "00000000000000000010.snap");

        LogFixture.FlipByte(file, SnapshotFile.HeaderSize + 500);
        var log = fixture.Reopen();
        var payload = Assert.Throws<MetadataDamagedException>(() => log.LoadSnapshot());
        Assert.Contains("checksum", payload.Message, StringComparison.Ordinal);

        log.Dispose();
        LogFixture.FlipByte(file, 9); // the version in the header
        var header = Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());
        Assert.Contains(file, header.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_snapshot_file_of_another_version_under_the_current_name_is_refused()
    {
        using var fixture = new LogFixture();
        using var aside = new TempDirectory();
        string ten = SaveTenThenTwentyKeepingACopyOfTen(fixture, aside);

        File.Copy(ten, Path.Combine(fixture.SnapshotDirectory, "00000000000000000020.snap"), overwrite: true);

        var e = Assert.Throws<MetadataDamagedException>(() => fixture.Reopen());

        Assert.Contains("version 10", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_database_from_before_snapshot_files_is_read_and_its_next_snapshot_goes_to_a_file()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 7, term: 2);
        fixture.Log.Dispose();
        // The layout such a data directory has: the bytes in the row, a table without the file column, no snapshots/.
        using (var db = OpenDatabase(fixture.DbPath))
        {
            using var command = db.CreateCommand();
            command.CommandText = """
                DROP TABLE snapshot;
                CREATE TABLE snapshot(version INTEGER PRIMARY KEY, term INTEGER NOT NULL, payload BLOB NOT NULL);
                INSERT INTO snapshot(version, term, payload) VALUES (5, 2, $payload);
                """;
            command.Parameters.AddWithValue("$payload", Payload(5));
            command.ExecuteNonQuery();
        }
        Directory.Delete(fixture.SnapshotDirectory, recursive: true);

        var log = fixture.Reopen();

        Assert.Equal(5, log.SnapshotVersion);
        Assert.Equal(2, log.TermAt(5));
        Assert.Equal(Payload(5), log.LoadSnapshot()!.State);
        Assert.Equal(7, log.LastVersion);
        Assert.Equal(Payload(5), fixture.Reopen().LoadSnapshot()!.State); // the column added at open changes nothing
        fixture.Log.SaveSnapshot(7, 2, Payload(7));
        Assert.Equal(["00000000000000000007.snap"], fixture.SnapshotFiles());
        var reopened = fixture.Reopen();
        Assert.Equal(7, reopened.SnapshotVersion);
        Assert.Equal(Payload(7), reopened.LoadSnapshot()!.State);
    }

    [Fact]
    public async Task Loads_during_saves_always_get_a_whole_snapshot()
    {
        using var fixture = new LogFixture();
        fixture.AppendRange(1, 300);
        fixture.Log.SaveSnapshot(1, 1, Payload(1, 20_000));
        using var saving = new CancellationTokenSource();
        var saver = Task.Run(() =>
        {
            for (long v = 2; v <= 300 && !saving.IsCancellationRequested; v++) fixture.Log.SaveSnapshot(v, 1, Payload(v, 20_000));
        }, TestContext.Current.CancellationToken);

        int loads = 0;
        var deadline = DateTime.UtcNow + Patience;
        while (!saver.IsCompleted && DateTime.UtcNow < deadline)
        {
            var snapshot = fixture.Log.LoadSnapshot()!;
            Assert.Equal(Payload(snapshot.Version, 20_000), snapshot.State);
            loads++;
        }
        saving.Cancel();

        await saver.WaitAsync(Patience, TestContext.Current.CancellationToken);
        Assert.True(loads > 0);
        Assert.Equal(300, fixture.Log.SnapshotVersion);
        Assert.Equal(["00000000000000000300.snap"], fixture.SnapshotFiles());
    }

    /// <summary>
    /// Appends 1..20, saves snapshots at 10 and then 20, and closes the log; returns where the file of snapshot 10 was
    /// copied before the second save deleted it.
    /// </summary>
    private static string SaveTenThenTwentyKeepingACopyOfTen(LogFixture fixture, TempDirectory aside)
    {
        fixture.AppendRange(1, 20);
        fixture.Log.SaveSnapshot(10, 1, Payload(10));
        string copy = aside.Combine("ten.snap");
        File.Copy(Path.Combine(fixture.SnapshotDirectory, "00000000000000000010.snap"), copy);
        fixture.Log.SaveSnapshot(20, 1, Payload(20));
        fixture.Log.Dispose();
        return copy;
    }

    /// <summary>A recognisable payload per version: the version's low byte, then a counter, so no two are alike.</summary>
    private static byte[] Payload(long version, int length = 64)
    {
        var payload = LogFixture.Payload(version, length);
        for (int i = 8; i < payload.Length; i++) payload[i] = (byte)(i * 31 + version);
        return payload;
    }

    private static SqliteConnection OpenDatabase(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static string MetaOf(LogFixture fixture) => Path.GetDirectoryName(fixture.DbPath)!;

    private static string[] Files(string directory) => [.. Directory.GetFiles(directory).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    /// <summary>Copies what the files hold right now, as a kill -9 at this instant would leave them.</summary>
    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (string directory in Directory.GetDirectories(from)) CopyDirectory(directory, Path.Combine(to, Path.GetFileName(directory)));
    }
}
