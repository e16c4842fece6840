using System.Collections.Concurrent;

namespace DinoMesh.Volume;

/// <summary>
/// When this node last committed a write to each file, so that the compactor leaves a file alone until it has been
/// quiet for <paramref name="quiet"/> (<see cref="Compactor.QuietPeriod"/>). Time is passed in (milliseconds of a
/// monotonic clock). Bounded in work, not by forgetting: past <paramref name="maxTracked"/> files, a write sweeps out
/// the entries older than the quiet period — they count as quiet anyway, so nothing changes for them — at most once per
/// quiet period (one walk over the entries each time). A file written within the quiet period is never forgotten: a
/// wholesale clear did that, and the compactor then rewrote blocks under a live writer (safe, as the compaction is
/// conditional, but a rewrite for nothing, flushed on that writer's fsync time).
/// </summary>
internal sealed class BusyFiles(TimeSpan quiet, int maxTracked)
{
    private readonly ConcurrentDictionary<ulong, long> _lastWrite = new();
    private readonly long _quietMs = (long)quiet.TotalMilliseconds;
    // Entries kept, counted here: ConcurrentDictionary.Count takes every lock of the dictionary, on the flush's path.
    private int _count;
    private long _nextSweepMs = long.MinValue;
    private long _sweeps;

    /// <summary>Files tracked now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Walks over the entries so far (at most one per quiet period).</summary>
    public long Sweeps => Interlocked.Read(ref _sweeps);

    /// <summary>This node committed a write to <paramref name="ino"/> at <paramref name="nowMs"/>.</summary>
    public void Wrote(ulong ino, long nowMs)
    {
        Record(ino, nowMs);
        if (Volatile.Read(ref _count) <= maxTracked) return;
        var due = Interlocked.Read(ref _nextSweepMs);
        // One sweeper at a time, and none again within the quiet period: the entries this sweep keeps are younger
        // than it, so a sweep any sooner could evict little more.
        if (nowMs < due || Interlocked.CompareExchange(ref _nextSweepMs, nowMs + _quietMs, due) != due) return;
        Interlocked.Increment(ref _sweeps);
        foreach (var (file, at) in _lastWrite)
        {
            // Removed only if unchanged: a write that lands meanwhile keeps its entry.
            if (nowMs - at >= _quietMs && _lastWrite.TryRemove(KeyValuePair.Create(file, at))) Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Sets the entry, counting it when it is new (a sweep may remove it between a look and a set).</summary>
    private void Record(ulong ino, long nowMs)
    {
        for (var tries = 0; tries < 8; tries++)
        {
            if (_lastWrite.TryGetValue(ino, out var at))
            {
                if (_lastWrite.TryUpdate(ino, nowMs, at)) return;
            }
            else if (_lastWrite.TryAdd(ino, nowMs))
            {
                Interlocked.Increment(ref _count);
                return;
            }
        }
        // Lost to other writers of this very entry eight times: set it, and count again (Count takes every lock, once).
        _lastWrite[ino] = nowMs;
        Volatile.Write(ref _count, _lastWrite.Count);
    }

    /// <summary>Whether this node wrote to <paramref name="ino"/> less than the quiet period before <paramref name="nowMs"/>.</summary>
    public bool IsBusy(ulong ino, long nowMs) => _lastWrite.TryGetValue(ino, out var at) && nowMs - at < _quietMs;
}
