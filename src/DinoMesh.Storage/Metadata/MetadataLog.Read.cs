using Microsoft.Data.Sqlite;

namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    private const int PageSize = 512;
    private const int MaxIdleReaders = 4;

    private readonly Lock _readersGate = new();
    private readonly Stack<SqliteConnection> _idleReaders = new();
    private bool _readersClosed;

    /// <summary>
    /// The oldest version still held as a record (older ones were folded into the snapshot);
    /// <see cref="LastVersion"/> + 1 when the log holds no records.
    /// </summary>
    public long FirstVersion
    {
        get
        {
            ThrowIfDisposed();
            long last = LastVersion;
            var reader = RentReader();
            try
            {
                using var command = reader.CreateCommand();
                command.CommandText = "SELECT min(version) FROM log";
                return command.ExecuteScalar() is long first ? first : last + 1;
            }
            finally
            {
                ReturnReader(reader);
            }
        }
    }

    /// <summary>
    /// The records from <paramref name="fromVersion"/> on, in order and without gaps, streamed page by page (no read
    /// transaction stays open while the caller consumes them). Starts exactly at <paramref name="fromVersion"/>: when
    /// that record was truncated away (below <see cref="FirstVersion"/>), yields nothing, and the caller needs the
    /// snapshot. Records appended while enumerating are included.
    /// </summary>
    public IEnumerable<LogRecord> ReadFrom(long fromVersion)
    {
        ThrowIfDisposed();
        return Stream(Math.Max(1, fromVersion));
    }

    private IEnumerable<LogRecord> Stream(long next)
    {
        while (true)
        {
            var page = ReadPage(next);
            foreach (var record in page)
            {
                // A jump means the range was truncated or replaced by a snapshot meanwhile: stop rather than skip.
                if (record.Version != next) yield break;
                yield return record;
                next++;
            }
            if (page.Count < PageSize) yield break;
        }
    }

    private List<LogRecord> ReadPage(long fromVersion)
    {
        var connection = RentReader();
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT version, term, payload FROM log WHERE version >= $from ORDER BY version LIMIT $limit";
            command.Parameters.AddWithValue("$from", fromVersion);
            command.Parameters.AddWithValue("$limit", PageSize);
            using var reader = command.ExecuteReader();
            var page = new List<LogRecord>();
            while (reader.Read()) page.Add(new LogRecord(reader.GetInt64(0), reader.GetInt64(1), (byte[])reader.GetValue(2)));
            return page;
        }
        finally
        {
            ReturnReader(connection);
        }
    }

    private SqliteConnection RentReader()
    {
        lock (_readersGate)
        {
            ObjectDisposedException.ThrowIf(_readersClosed, this);
            if (_idleReaders.TryPop(out var idle)) return idle;
        }
        var connection = new SqliteConnection(_readerConnectionString);
        try
        {
            connection.Open();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private void ReturnReader(SqliteConnection connection)
    {
        lock (_readersGate)
        {
            if (!_readersClosed && _idleReaders.Count < MaxIdleReaders)
            {
                _idleReaders.Push(connection);
                return;
            }
        }
        connection.Dispose();
    }

    private void DisposeReaders()
    {
        lock (_readersGate)
        {
            _readersClosed = true;
            while (_idleReaders.TryPop(out var connection)) connection.Dispose();
        }
    }
}
