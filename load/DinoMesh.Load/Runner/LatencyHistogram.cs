namespace DinoMesh.Load.Runner;

/// <summary>
/// A log-linear latency histogram in nanoseconds (HdrHistogram is not available here). Values below 64 ns are
/// counted exactly; above that each power of two is split into 32 linear sub-buckets, so a reported percentile is
/// at most ~3% above the true value. Not thread-safe: each load copy records into its own and the runner merges.
/// </summary>
public sealed class LatencyHistogram
{
    private const int ExactLimit = 64;
    private const int SubBucketBits = 5;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int FirstExponent = 6; // log2(ExactLimit)
    private const int BucketCount = ExactLimit + (63 - FirstExponent) * SubBuckets;

    private readonly long[] _counts = new long[BucketCount];

    public long Count { get; private set; }

    public long Min { get; private set; } = long.MaxValue;

    public long Max { get; private set; }

    public double Sum { get; private set; }

    public double Mean => Count == 0 ? 0 : Sum / Count;

    public void Record(long nanoseconds)
    {
        var value = Math.Max(0, nanoseconds);
        _counts[IndexOf(value)]++;
        Count++;
        Sum += value;
        if (value < Min) Min = value;
        if (value > Max) Max = value;
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < BucketCount; i++) _counts[i] += other._counts[i];
        Count += other.Count;
        Sum += other.Sum;
        if (other.Count > 0)
        {
            Min = Math.Min(Min, other.Min);
            Max = Math.Max(Max, other.Max);
        }
    }

    /// <summary>
    /// The highest value equivalent to the one at <paramref name="percentile"/> (0..100], clamped to the exact
    /// maximum, so p100 == Max and no percentile is reported below the true one. 0 when empty.
    /// </summary>
    public long ValueAtPercentile(double percentile)
    {
        if (Count == 0) return 0;
        var p = Math.Clamp(percentile, 0, 100);
        var rank = Math.Max(1, (long)Math.Ceiling(p / 100.0 * Count));
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            seen += _counts[i];
            if (seen >= rank) return Math.Min(UpperBoundOf(i), Max);
        }
        return Max;
    }

    internal static int IndexOf(long value)
    {
        if (value < ExactLimit) return (int)value;
        var exponent = 63 - long.LeadingZeroCount(value);
        var sub = (int)(value >> (int)(exponent - SubBucketBits)) - SubBuckets;
        return ExactLimit + (int)(exponent - FirstExponent) * SubBuckets + sub;
    }

    internal static long UpperBoundOf(int index)
    {
        if (index < ExactLimit) return index;
        var exponent = (index - ExactLimit) / SubBuckets + FirstExponent;
        var sub = (long)((index - ExactLimit) % SubBuckets + SubBuckets);
        var shift = exponent - SubBucketBits;
        var upper = ((sub + 1) << shift) - 1;
        return upper < 0 ? long.MaxValue : upper;
    }
}
