using Microsoft.Data.Sqlite;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The tables of the metadata database and the connection settings the log relies on. The entries themselves are not
/// here (see <see cref="SegmentFormat"/>), nor the snapshot's bytes (see <see cref="SnapshotFile"/>): the database holds
/// only what is small and written rarely.
/// </summary>
internal static class Schema
{
    private const string Tables = """
        -- Only the newest row is kept. Its bytes are in the file named by `file` under snapshots/ (payload empty); a row
        -- without a file was written before snapshots had files of their own and holds the bytes in `payload`.
        CREATE TABLE IF NOT EXISTS snapshot(
            version INTEGER PRIMARY KEY,
            term    INTEGER NOT NULL,
            payload BLOB    NOT NULL,
            file    TEXT);
        CREATE TABLE IF NOT EXISTS kv(
            key   TEXT PRIMARY KEY,
            value BLOB NOT NULL);
        -- One row: the highest version dropped from the segments (TruncatePrefix) or superseded by a snapshot installed
        -- beyond the log. Written before the segments are deleted, so an interrupted delete is finished at open.
        CREATE TABLE IF NOT EXISTS log_floor(
            id      INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL);
        """;

    public static void Apply(SqliteConnection writer, string path)
    {
        string mode = Scalar(writer, "PRAGMA journal_mode=WAL");
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            throw new IOException($"metadata log {path}: the filesystem refused WAL mode (journal_mode is {mode})");
        // FULL: every commit is durable when it returns. Commits are rare here (snapshots, the floor, key/values), and
        // TruncatePrefix relies on the floor being on disk before it deletes segments.
        Execute(writer, "PRAGMA synchronous=FULL");
        if (Scalar(writer, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'log'") != "0")
            throw new IOException($"metadata log {path} has the old format (entries inside SQLite); the format changed and there is no migration: start from an empty data directory");
        Execute(writer, Tables);
        // A database from before snapshot files gains the column; its row (file NULL) is read as it is.
        if (Scalar(writer, "SELECT count(*) FROM pragma_table_info('snapshot') WHERE name = 'file'") == "0")
            Execute(writer, "ALTER TABLE snapshot ADD COLUMN file TEXT");
    }

    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static string Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
    }
}
