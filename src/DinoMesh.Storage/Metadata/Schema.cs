using Microsoft.Data.Sqlite;

namespace DinoMesh.Storage.Metadata;

/// <summary>The tables of the metadata database and the connection settings the log relies on.</summary>
internal static class Schema
{
    private const string Tables = """
        CREATE TABLE IF NOT EXISTS log(
            version INTEGER PRIMARY KEY,   -- the rowid: appends go to the end of the b-tree
            term    INTEGER NOT NULL,
            payload BLOB    NOT NULL);
        CREATE TABLE IF NOT EXISTS snapshot(
            version INTEGER PRIMARY KEY,   -- only the newest row is kept
            term    INTEGER NOT NULL,
            payload BLOB    NOT NULL);
        CREATE TABLE IF NOT EXISTS kv(
            key   TEXT PRIMARY KEY,
            value BLOB NOT NULL);
        -- One row rewritten by Sync(): a commit under synchronous=FULL needs something to commit.
        CREATE TABLE IF NOT EXISTS sync_mark(
            id    INTEGER PRIMARY KEY CHECK (id = 1),
            syncs INTEGER NOT NULL);
        """;

    public static void Apply(SqliteConnection writer)
    {
        string mode = Scalar(writer, "PRAGMA journal_mode=WAL");
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            throw new IOException($"metadata log {writer.DataSource}: the filesystem refused WAL mode (journal_mode is {mode})");
        // NORMAL in WAL mode: a commit is a write(2) to the WAL, no fsync. It survives a process crash; Sync() and
        // checkpoints (which fsync) make it survive power loss.
        Execute(writer, "PRAGMA synchronous=NORMAL");
        // No automatic checkpoints: a checkpoint fsyncs the WAL, and the owner must first make the chunks that
        // those entries point at durable (see MetadataLog.Checkpoint).
        Execute(writer, "PRAGMA wal_autocheckpoint=0");
        Execute(writer, Tables);
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
