using DinoMesh.Storage.Metadata;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// The lease machine's view of the metadata log on disk. Terms are kept in memory as runs (a term changes rarely, and
/// the machine asks for the term of some version on every message), so only entries are read from the files.
/// The driver reports every append and truncation under its lock.
/// </summary>
internal sealed class LogStoreView : ILogView
{
    private readonly MetadataLog _log;
    private readonly List<(long Start, long Term)> _runs = [];

    public LogStoreView(MetadataLog log)
    {
        _log = log;
        long? last = null;
        foreach (var record in log.ReadFrom(log.FirstVersion))
        {
            if (last != record.Term) _runs.Add((record.Version, record.Term));
            last = record.Term;
        }
    }

    /// <summary>The snapshot's version and term; the term is read once per snapshot (snapshots are written in the background).</summary>
    public (long Version, long Term) Snapshot
    {
        get
        {
            var version = _log.SnapshotVersion;
            if (version == 0) return (0, 0);
            if (_snapshot.Version != version) _snapshot = (version, _log.TermAt(version));
            return _snapshot;
        }
    }

    private (long Version, long Term) _snapshot;

    public long LastVersion => _log.LastVersion;

    public long TermAt(long version)
    {
        var snapshot = Snapshot;
        if (version == snapshot.Version) return snapshot.Term;
        if (version > _log.LastVersion || version < _log.FirstVersion) return -1;
        for (var i = _runs.Count - 1; i >= 0; i--)
        {
            if (_runs[i].Start <= version) return _runs[i].Term;
        }
        return -1;
    }

    public IReadOnlyList<LogEntry> Read(long from, int maxCount, long maxBytes)
    {
        var result = new List<LogEntry>();
        long bytes = 0;
        foreach (var record in _log.ReadFrom(from))
        {
            if (result.Count >= maxCount || (result.Count > 0 && bytes + record.Payload.Length > maxBytes)) break;
            result.Add(new LogEntry(record.Version, record.Term, record.Payload));
            bytes += record.Payload.Length;
        }
        return result;
    }

    public void Appended(IReadOnlyList<LogEntry> entries)
    {
        // By index: a foreach over the interface allocates an enumerator, and this runs on every append.
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            if (_runs.Count == 0 || _runs[^1].Term != e.Term) _runs.Add((e.Version, e.Term));
        }
    }

    public void Truncated(long from) => _runs.RemoveAll(r => r.Start >= from);

    /// <summary>A snapshot was saved or installed: the log before it is gone, and its term is read again.</summary>
    public void SnapshotChanged()
    {
        _snapshot = default;
        var first = _log.FirstVersion;
        if (_log.LastVersion < first) _runs.Clear();
    }
}
