using Microsoft.Data.Sqlite;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The node's durable, ordered log of committed metadata mutations (versions 1, 2, 3… without gaps), the newest
/// snapshot of the state, and a small key/value table, in one SQLite database in WAL mode.
/// <para>Durability: an append survives a crash of the process (kill -9) as soon as it returns: it is in the WAL, in
/// the page cache. It survives power loss after <see cref="Sync"/>. Reopening after any crash yields a prefix of what was
/// appended, without gaps.</para>
/// <para>Concurrency: one writer connection behind a lock (SQLite has one writer anyway); reads use their own
/// connections and never wait for the writer (WAL readers see the last commit).</para>
/// </summary>
public sealed partial class MetadataLog : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly string _path;
    private readonly string _readerConnectionString;
    private readonly Lock _writeLock = new();
    private readonly SqliteConnection _writer;
    private readonly SqliteCommand _append;
    private readonly SqliteParameter _appendVersion, _appendTerm, _appendPayload;
    private long _lastVersion, _lastTerm, _snapshotVersion;
    private bool _unsynced;
    private bool _disposed;

    private MetadataLog(string path, SqliteConnection writer)
    {
        _path = path;
        _writer = writer;
        _readerConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString();

        _append = writer.CreateCommand();
        _append.CommandText = "INSERT INTO log(version, term, payload) VALUES ($version, $term, $payload)";
        _appendVersion = _append.Parameters.Add("$version", SqliteType.Integer);
        _appendTerm = _append.Parameters.Add("$term", SqliteType.Integer);
        _appendPayload = _append.Parameters.Add("$payload", SqliteType.Blob);
        _append.Prepare();
    }

    /// <summary>The database file.</summary>
    public string Path => _path;

    /// <summary>The highest version in the log or covered by the snapshot; 0 when empty. The next append is this + 1.</summary>
    public long LastVersion => Interlocked.Read(ref _lastVersion);

    /// <summary>The term of <see cref="LastVersion"/> (0 when empty): what a voter compares to decide "at least as up to date".</summary>
    public long LastTerm => Interlocked.Read(ref _lastTerm);

    /// <summary>The version of the newest saved snapshot; 0 when there is none.</summary>
    public long SnapshotVersion => Interlocked.Read(ref _snapshotVersion);

    /// <summary>
    /// Opens (creating if needed) the log at <paramref name="path"/>, e.g. <see cref="DataDirectory.MetadataPath"/>.
    /// Throws <see cref="IOException"/> with a one-line message when the file cannot be used or is damaged.
    /// </summary>
    public static MetadataLog Open(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        path = System.IO.Path.GetFullPath(path);
        string? directory = System.IO.Path.GetDirectoryName(path);
        if (directory is not null && !Directory.Exists(directory)) Directory.CreateDirectory(directory, OwnerOnly);

        var writer = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // Pooling would keep the file open after Dispose; a reopen must really reopen it.
            Pooling = false,
        }.ToString());
        try
        {
            writer.Open();
            Schema.Apply(writer);
            var log = new MetadataLog(path, writer);
            log.LoadState();
            return log;
        }
        catch (SqliteException e)
        {
            writer.Dispose();
            throw new IOException($"metadata log {path} cannot be opened: {e.Message}", e);
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    private void LoadState()
    {
        long snapshotVersion = 0, snapshotTerm = 0;
        using (var command = _writer.CreateCommand())
        {
            command.CommandText = "SELECT version, term FROM snapshot ORDER BY version DESC LIMIT 1";
            using var reader = command.ExecuteReader();
            if (reader.Read()) (snapshotVersion, snapshotTerm) = (reader.GetInt64(0), reader.GetInt64(1));
        }

        long first = 0, last = 0, count = 0, lastTerm = 0;
        using (var command = _writer.CreateCommand())
        {
            command.CommandText = "SELECT min(version), max(version), count(*) FROM log";
            using var reader = command.ExecuteReader();
            reader.Read();
            if (!reader.IsDBNull(0)) (first, last, count) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }
        if (count > 0)
        {
            // Appends are checked, so a hole means the file was damaged or edited: refuse rather than serve a wrong state.
            if (last - first + 1 != count || first > snapshotVersion + 1)
                throw new IOException($"metadata log {_path} is damaged: {count} records between versions {first} and {last}, snapshot at {snapshotVersion}");
            using var command = _writer.CreateCommand();
            command.CommandText = "SELECT term FROM log WHERE version = $version";
            command.Parameters.AddWithValue("$version", last);
            lastTerm = (long)command.ExecuteScalar()!;
        }

        _snapshotVersion = snapshotVersion;
        (_lastVersion, _lastTerm) = last >= snapshotVersion ? (last, lastTerm) : (snapshotVersion, snapshotTerm);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Closes the database. Closing checkpoints the WAL, with the fsyncs that implies.</summary>
    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed) return;
            _disposed = true;
            _append.Dispose();
            _writer.Dispose();
        }
        DisposeReaders();
    }
}
