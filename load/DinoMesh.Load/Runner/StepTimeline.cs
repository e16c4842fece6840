namespace DinoMesh.Load.Runner;

/// <summary>One interval of a <see cref="StepTimeline"/>: what completed in it and how long those calls took.</summary>
/// <param name="StartSeconds">Start of the interval, seconds since the measured load began.</param>
/// <param name="Seconds">Length of the interval (the last one may be cut short by the end of the load).</param>
public sealed record TimelineBucket(double StartSeconds, double Seconds, long Ok, long Failed, long Bytes, double P50Microseconds, double P99Microseconds, double MaxMicroseconds)
{
    public double OpsPerSecond => Seconds > 0 ? (Ok + Failed) / Seconds : 0;

    public double ErrorsPerSecond => Seconds > 0 ? Failed / Seconds : 0;

    public double MegabytesPerSecond => Seconds > 0 ? Bytes / Seconds / 1e6 : 0;
}

/// <summary>
/// The calls of one step over time, in fixed-width intervals by completion time: the data behind the throughput and
/// latency-over-time charts and the live view. Thread-safe (one short lock per call); bounded in memory because the
/// number of intervals is capped (past the cap, the last interval absorbs the rest).
/// </summary>
public sealed class StepTimeline(string name, TimeSpan bucketWidth, int maxBuckets = 2000)
{
    private readonly Lock _lock = new();
    private readonly List<Slot> _slots = [];
    private readonly long _widthNs = Math.Max(1, (long)(bucketWidth.TotalMilliseconds * 1e6));
    private long _ok;
    private long _failed;
    private long _lastEndNs;

    public string Name { get; } = name;

    public TimeSpan BucketWidth => bucketWidth;

    /// <summary>Calls recorded so far (ok, failed), cheap to read for a live view.</summary>
    public (long Ok, long Failed) Totals
    {
        get
        {
            lock (_lock) return (_ok, _failed);
        }
    }

    /// <summary>The width for a load of <paramref name="duration"/>: 1 s, or wider so a long run has at most ~300 points.</summary>
    public static TimeSpan WidthFor(TimeSpan duration) =>
        TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(duration.TotalSeconds / 300)));

    /// <summary>Records a call that ended <paramref name="endNs"/> after the load began and took <paramref name="latencyNs"/>.</summary>
    public void Record(long endNs, long latencyNs, bool ok, long bytes)
    {
        var index = (int)Math.Min(Math.Max(0, endNs) / _widthNs, maxBuckets - 1);
        lock (_lock)
        {
            while (_slots.Count <= index) _slots.Add(new Slot());
            var slot = _slots[index];
            slot.Latency.Record(latencyNs);
            if (ok)
            {
                slot.Ok++;
                _ok++;
            }
            else
            {
                slot.Failed++;
                _failed++;
            }
            slot.Bytes += bytes;
            _lastEndNs = Math.Max(_lastEndNs, endNs);
        }
    }

    /// <summary>
    /// The intervals up to <paramref name="endNs"/> (the load's length; intervals with no call are included as zeros
    /// so the chart shows a stall as a gap to the floor).
    /// </summary>
    public IReadOnlyList<TimelineBucket> Buckets(long endNs)
    {
        lock (_lock)
        {
            var end = Math.Max(endNs, _lastEndNs);
            var count = (int)Math.Min(maxBuckets, Math.Max(_slots.Count, (end + _widthNs - 1) / _widthNs));
            var buckets = new List<TimelineBucket>(count);
            for (var i = 0; i < count; i++)
            {
                var start = i * _widthNs;
                var length = i == count - 1 || i == maxBuckets - 1 ? Math.Max(1, end - start) : _widthNs;
                var slot = i < _slots.Count ? _slots[i] : null;
                // A last interval shorter than half the width (calls that ended just after the deadline) joins the one
                // before it: a rate over a few milliseconds would be noise.
                if (i == count - 1 && i > 0 && length < _widthNs / 2)
                {
                    var previous = _slots.Count > i - 1 ? _slots[i - 1] : null;
                    var merged = new Slot();
                    if (previous is not null) merged.Add(previous);
                    if (slot is not null) merged.Add(slot);
                    buckets[^1] = ToBucket(merged, (i - 1) * _widthNs, _widthNs + length);
                    break;
                }
                buckets.Add(ToBucket(slot, start, length));
            }
            return buckets;
        }
    }

    private static TimelineBucket ToBucket(Slot? slot, long startNs, long lengthNs) => slot is null
        ? new TimelineBucket(startNs / 1e9, lengthNs / 1e9, 0, 0, 0, 0, 0, 0)
        : new TimelineBucket(startNs / 1e9, lengthNs / 1e9, slot.Ok, slot.Failed, slot.Bytes,
            slot.Latency.ValueAtPercentile(50) / 1e3, slot.Latency.ValueAtPercentile(99) / 1e3, slot.Latency.Max / 1e3);

    /// <summary>The most recent complete interval before <paramref name="nowNs"/>, for a live "ops/s now" figure; null early on.</summary>
    public TimelineBucket? LastComplete(long nowNs)
    {
        var index = (int)(nowNs / _widthNs) - 1;
        if (index < 0) return null;
        var all = Buckets(nowNs);
        return index < all.Count ? all[index] : null;
    }

    private sealed class Slot
    {
        public long Ok;
        public long Failed;
        public long Bytes;
        public readonly LatencyHistogram Latency = new();

        public void Add(Slot other)
        {
            Ok += other.Ok;
            Failed += other.Failed;
            Bytes += other.Bytes;
            Latency.Add(other.Latency);
        }
    }
}
