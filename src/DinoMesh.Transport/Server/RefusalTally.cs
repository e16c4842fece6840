using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Decides which refusals are worth a log line: the first of each kind from each source, then one summary per
/// interval while they continue. Pure (time is passed in) and bounded: past <see cref="MaxSources"/> distinct keys,
/// further sources are only counted together. Not thread-safe; <see cref="RefusalLog"/> locks around it.
/// </summary>
internal sealed class RefusalTally
{
    public const int MaxSources = 256;

    private readonly TimeSpan _interval;
    private readonly Dictionary<(string Kind, string Source), Entry> _entries = new();
    private long _overflow;
    private TimeSpan _overflowSince;

    public RefusalTally(TimeSpan interval) => _interval = interval;

    /// <summary>Counts one refusal; true when it should be logged in full now.</summary>
    public bool Record(string kind, string source, TimeSpan now, LogLevel level = LogLevel.Warning)
    {
        if (_entries.TryGetValue((kind, source), out var entry))
        {
            entry.Suppressed++;
            entry.LastEvent = now;
            return false;
        }
        if (_entries.Count >= MaxSources)
        {
            if (_overflow++ == 0) _overflowSince = now;
            return false;
        }
        _entries[(kind, source)] = new Entry { Since = now, LastEvent = now, Level = level };
        return true;
    }

    /// <summary>
    /// The summaries due at <paramref name="now"/>: for each kind and source whose interval has passed, how many were
    /// not logged. A source quiet for a whole interval is forgotten, so its next refusal is logged in full again.
    /// <paramref name="all"/> (at shutdown) reports every pending count, due or not.
    /// </summary>
    public IReadOnlyList<RefusalSummary> Drain(TimeSpan now, bool all = false)
    {
        var due = new List<RefusalSummary>();
        foreach (var (key, entry) in _entries.ToArray())
        {
            if (now - entry.Since < _interval && !all) continue;
            if (entry.Suppressed > 0) due.Add(new RefusalSummary(key.Kind, key.Source, entry.Suppressed, now - entry.Since, entry.Level));
            if (now - entry.LastEvent >= _interval)
            {
                _entries.Remove(key);
            }
            else
            {
                entry.Since = now;
                entry.Suppressed = 0;
            }
        }
        if (_overflow > 0 && (now - _overflowSince >= _interval || all))
        {
            due.Add(new RefusalSummary("refusals", $"sources beyond the first {MaxSources}", _overflow, now - _overflowSince, LogLevel.Warning));
            _overflow = 0;
        }
        return due;
    }

    private sealed class Entry
    {
        public TimeSpan Since;
        public TimeSpan LastEvent;
        public long Suppressed;
        public LogLevel Level;
    }
}

/// <summary>Refusals of one kind from one source that were counted instead of logged.</summary>
internal sealed record RefusalSummary(string Kind, string Source, long Count, TimeSpan Over, LogLevel Level);
