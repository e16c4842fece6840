namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The newest records of the log, kept in memory as they are appended, so that applying a commit, sending it to a
/// follower or answering a pull of what was just written does not open and read back a segment file (that was the
/// largest cost of a commit on one node). Bounded by count and bytes; always a contiguous run of versions ending at
/// the log's last record. The writer changes it under the log's write lock; readers copy from it under its own lock.
/// </summary>
internal sealed class RecentRecords(int maxCount, long maxBytes)
{
    private readonly Lock _gate = new();
    private readonly LogRecord?[] _ring = new LogRecord?[maxCount];
    private int _start, _count;
    private long _bytes;

    /// <summary>Keeps a copy of a record just appended to the log. Writer only.</summary>
    public void Add(long version, long term, ReadOnlySpan<byte> payload) => Add(new LogRecord(version, term, payload.ToArray()));

    /// <summary>
    /// Keeps a record just appended to the log, as it is: its payload array is shared, not copied, so whoever appended
    /// it must not change it afterwards (see <see cref="MetadataLog.AppendBatch"/>). Writer only.
    /// </summary>
    public void Add(LogRecord record)
    {
        var (version, payload) = (record.Version, record.Payload);
        lock (_gate)
        {
            // Only a run of consecutive versions is useful (and safe to serve); a jump starts a new run.
            if (_count > 0 && NextLocked() != version) ClearLocked();
            if (_count == _ring.Length) DropOldestLocked();
            _ring[(_start + _count) % _ring.Length] = record;
            _count++;
            _bytes += payload.Length;
            while (_bytes > maxBytes && _count > 1) DropOldestLocked();
        }
    }

    /// <summary>Drops every record from <paramref name="version"/> on (the log cut its suffix). Writer only.</summary>
    public void CutFrom(long version)
    {
        lock (_gate)
        {
            while (_count > 0 && NextLocked() > version)
            {
                var last = (_start + _count - 1) % _ring.Length;
                _bytes -= _ring[last]!.Payload.Length;
                _ring[last] = null;
                _count--;
            }
        }
    }

    public void Clear()
    {
        lock (_gate) ClearLocked();
    }

    /// <summary>
    /// Copies up to <paramref name="max"/> records starting exactly at <paramref name="from"/> into
    /// <paramref name="into"/>; none when <paramref name="from"/> is older than what is kept or newer than the last.
    /// </summary>
    public void CopyFrom(long from, int max, List<LogRecord> into)
    {
        lock (_gate)
        {
            if (_count == 0) return;
            long first = _ring[_start]!.Version;
            if (from < first || from >= first + _count) return;
            for (long v = from; v < first + _count && max-- > 0; v++)
            {
                into.Add(_ring[(_start + (int)(v - first)) % _ring.Length]!);
            }
        }
    }

    /// <summary>The record at <paramref name="version"/> when it is kept; as <see cref="CopyFrom"/> for one record, without a list.</summary>
    public bool TryGet(long version, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LogRecord? record)
    {
        lock (_gate)
        {
            record = null;
            if (_count == 0) return false;
            long first = _ring[_start]!.Version;
            if (version < first || version >= first + _count) return false;
            record = _ring[(_start + (int)(version - first)) % _ring.Length]!;
            return true;
        }
    }

    // The run is contiguous, so the first version plus the count names the next one.
    private long NextLocked() => _ring[_start]!.Version + _count;

    private void DropOldestLocked()
    {
        _bytes -= _ring[_start]!.Payload.Length;
        _ring[_start] = null;
        _start = (_start + 1) % _ring.Length;
        _count--;
    }

    private void ClearLocked()
    {
        Array.Clear(_ring);
        _start = _count = 0;
        _bytes = 0;
    }
}
