using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Server;

/// <summary>
/// Where the transport logs what it refuses (connections over a cap, strangers' requests, bad credentials, malformed
/// or oversized messages). A peer can cause these as fast as it can connect, so each kind from each source is logged
/// in full once, then counted; a timer writes one summary line per kind and source and interval while it goes on
/// ("49 more ... in the last 60 s"). See <see cref="RefusalTally"/>.
/// </summary>
internal sealed class RefusalLog : IDisposable
{
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Lock _gate = new();
    private readonly RefusalTally _tally;
    private readonly long _start;
    private readonly ITimer _timer;

    public RefusalLog(ILogger log, TimeSpan interval, TimeProvider? time = null)
    {
        _log = log;
        _time = time ?? TimeProvider.System;
        _interval = interval;
        _tally = new RefusalTally(interval);
        _start = _time.GetTimestamp();
        // Checked a few times per interval so a summary is at most a quarter interval late.
        var tick = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(50).Ticks, interval.Ticks / 4));
        _timer = _time.CreateTimer(_ => Flush(), null, tick, tick);
    }

    /// <param name="kind">What was refused and why, in the plural, for the summary ("joins refused: invalid join credential").</param>
    /// <param name="source">Who caused it ("peer 896ed7b81986 at 127.0.0.1", or an address).</param>
    /// <param name="message">The full line for the first occurrence (a message template with <paramref name="args"/>).</param>
    public void Refused(LogLevel level, string kind, string source, string message, params object?[] args)
    {
        if (!_log.IsEnabled(level)) return;
        bool first;
        lock (_gate) first = _tally.Record(kind, source, Now, level);
#pragma warning disable CA2254 // the template is one of ours, passed through
        if (first) _log.Log(level, message, args);
#pragma warning restore CA2254
    }

    /// <summary>Writes the summaries that are due (the timer calls this), or all pending ones.</summary>
    public void Flush(bool all = false)
    {
        IReadOnlyList<RefusalSummary> due;
        lock (_gate) due = _tally.Drain(Now, all);
        foreach (var s in due)
        {
            _log.Log(s.Level, "{Count} more {Kind} from {Source} in the last {Seconds:F0} s", s.Count, s.Kind, s.Source, s.Over.TotalSeconds);
        }
    }

    private TimeSpan Now => _time.GetElapsedTime(_start);

    public void Dispose()
    {
        _timer.Dispose();
        Flush(all: true);
    }
}
