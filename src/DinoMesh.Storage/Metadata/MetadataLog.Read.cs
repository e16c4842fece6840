using Microsoft.Data.Sqlite;

namespace DinoMesh.Storage.Metadata;

public sealed partial class MetadataLog
{
    private const int ReadBufferSize = 64 * 1024;
    private const int MaxIdleReaders = 4;
    private const int RecentBatch = 64;

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
            var segments = Volatile.Read(ref _segments);
            if (segments.Length == 0) return last + 1;
            long first = Math.Max(Interlocked.Read(ref _floor) + 1, segments[0].FirstVersion);
            return segments[^1].LastVersion >= first ? first : last + 1;
        }
    }

    /// <summary>
    /// The records from <paramref name="fromVersion"/> on, in order and without gaps, streamed from the segment files
    /// (no lock is held while the caller consumes them). Starts exactly at <paramref name="fromVersion"/>: when that
    /// record was truncated away (below <see cref="FirstVersion"/>), yields nothing, and the caller needs the snapshot.
    /// Records appended while enumerating are included; a segment deleted meanwhile (truncation, snapshot beyond the
    /// log) ends the enumeration.
    /// </summary>
    public IEnumerable<LogRecord> ReadFrom(long fromVersion)
    {
        ThrowIfDisposed();
        return Stream(Math.Max(1, fromVersion), long.MaxValue);
    }

    /// <summary>
    /// As <see cref="ReadFrom(long)"/>, but ends at <paramref name="toVersion"/> without reading the record after it. The
    /// apply of committed entries uses it: the record past the commit may be truncated and written again under it (a
    /// new holder's entries replacing uncommitted ones), and a read of those bytes would find them torn.
    /// </summary>
    public IEnumerable<LogRecord> ReadRange(long fromVersion, long toVersion)
    {
        ThrowIfDisposed();
        return Stream(Math.Max(1, fromVersion), toVersion);
    }

    /// <summary>
    /// The record at <paramref name="version"/> when it is among the newest, kept in memory (what <see cref="ReadRange"/>
    /// would yield for it first); false otherwise, and the caller reads the range. The apply of a commit reads one or
    /// two records just appended: this serves them without the range's enumerator and list, which were about 500 bytes
    /// of every commit round on each node (docs/benchmarks.md).
    /// </summary>
    public bool TryReadRecent(long version, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LogRecord? record)
    {
        ThrowIfDisposed();
        record = null;
        return version >= 1 && _recent.TryGet(version, out record);
    }

    private IEnumerable<LogRecord> Stream(long next, long last)
    {
        if (next > last || next < FirstVersion) yield break;
        // The newest records come from memory; the segment files serve only what is older than that.
        // Sized to the range: the apply of a commit reads one or two records, for which a list of RecentBatch was most
        // of what a commit round allocated on a follower (docs/benchmarks.md).
        var recent = new List<LogRecord>((int)Math.Min(RecentBatch, last - next + 1));
        while (next <= last)
        {
            recent.Clear();
            _recent.CopyFrom(next, (int)Math.Min(RecentBatch, last - next + 1), recent);
            if (recent.Count == 0) break;
            foreach (var record in recent)
            {
                yield return record;
                next++;
            }
        }
        // A record is kept in memory before the log's last version names it, so past the last version there is nothing
        // on disk either.
        if (next > last || next > LastVersion) yield break;
        var segments = Volatile.Read(ref _segments);
        int at = IndexOfSegmentHolding(segments, next);
        if (at < 0) yield break;
        var segment = segments[at];
        while (true)
        {
            var (indexed, offset) = segment.Seek(next);
            using var cursor = SegmentCursor.TryOpen(segment.Path, offset, ReadBufferSize);
            if (cursor is null) yield break;
            long version = indexed;
            while (true)
            {
                if (next > last) yield break;
                var status = cursor.Next(segment.Length);
                if (status == RecordStatus.Ok)
                {
                    if (cursor.Version != version++)
                        throw SegmentRecovery.Damaged(segment.Path, $"record {cursor.Version} where {version - 1} was due at offset {cursor.RecordOffset}");
                    if (cursor.Version < next) continue;
                    yield return new LogRecord(cursor.Version, cursor.Term, cursor.Payload.ToArray());
                    next++;
                    continue;
                }
                // Committed bytes are whole records: anything else means the file changed under us.
                if (status != RecordStatus.End)
                    throw SegmentRecovery.Damaged(segment.Path, $"a committed record at offset {cursor.RecordOffset} is unreadable");

                // Caught up with what was committed when we looked. Look again, now that the list may have moved on:
                // a successor is published only after this segment's last record, so seeing one means this one is final.
                var current = Volatile.Read(ref _segments);
                int now = Array.IndexOf(current, segment);
                if (now < 0) yield break;
                if (segment.Length > cursor.Position) continue;
                if (now == current.Length - 1) yield break;
                segment = current[now + 1];
                if (segment.FirstVersion != next) yield break;
                break;
            }
        }
    }

    /// <summary>The segment whose versions include <paramref name="version"/>: the last one starting at or before it; -1 when none.</summary>
    private static int IndexOfSegmentHolding(LogSegment[] segments, long version)
    {
        int low = 0, high = segments.Length - 1, found = -1;
        while (low <= high)
        {
            int middle = (low + high) >>> 1;
            if (segments[middle].FirstVersion <= version)
            {
                found = middle;
                low = middle + 1;
            }
            else high = middle - 1;
        }
        return found;
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
