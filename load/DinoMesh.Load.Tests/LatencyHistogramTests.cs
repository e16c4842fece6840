using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Tests;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void Empty_histogram_reports_zero()
    {
        var h = new LatencyHistogram();
        Assert.Equal(0, h.Count);
        Assert.Equal(0, h.ValueAtPercentile(50));
        Assert.Equal(0, h.ValueAtPercentile(100));
    }

    [Fact]
    public void Values_below_64_ns_are_exact()
    {
        var h = new LatencyHistogram();
        for (var v = 1; v <= 50; v++) h.Record(v);
        Assert.Equal(25, h.ValueAtPercentile(50));
        Assert.Equal(45, h.ValueAtPercentile(90));
        Assert.Equal(50, h.ValueAtPercentile(100));
        Assert.Equal(1, h.Min);
    }

    [Fact]
    public void Every_bucket_bound_is_at_least_the_value_and_within_one_thirty_second()
    {
        var random = new Random(11);
        for (var i = 0; i < 100_000; i++)
        {
            var value = (long)Math.Pow(2, random.NextDouble() * 50);
            var upper = LatencyHistogram.UpperBoundOf(LatencyHistogram.IndexOf(value));
            Assert.True(upper >= value, $"{upper} < {value}");
            Assert.True(upper - value <= value / 32.0 + 1, $"{upper} too far above {value}");
        }
    }

    [Fact]
    public void Bucket_index_grows_with_the_value()
    {
        var previous = -1;
        for (long v = 0; v < 1 << 20; v += 7)
        {
            var index = LatencyHistogram.IndexOf(v);
            Assert.True(index >= previous);
            previous = index;
        }
    }

    [Fact]
    public void Percentiles_are_within_three_percent_of_the_exact_ones()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 20_000).Select(_ => (long)(1000 + random.NextDouble() * random.NextDouble() * 5_000_000)).ToArray();
        var h = new LatencyHistogram();
        foreach (var v in values) h.Record(v);
        var sorted = values.Order().ToArray();
        foreach (var p in new[] { 50.0, 90, 99, 99.9 })
        {
            var exact = sorted[(int)Math.Ceiling(p / 100 * sorted.Length) - 1];
            var reported = h.ValueAtPercentile(p);
            Assert.InRange(reported, exact, exact * 1.032);
        }
        Assert.Equal(sorted[^1], h.ValueAtPercentile(100));
        Assert.Equal(sorted[^1], h.Max);
    }

    [Fact]
    public void Merging_equals_recording_everything_in_one()
    {
        var random = new Random(3);
        var a = new LatencyHistogram();
        var b = new LatencyHistogram();
        var all = new LatencyHistogram();
        for (var i = 0; i < 5000; i++)
        {
            var v = random.NextInt64(1, 10_000_000);
            (i % 3 == 0 ? a : b).Record(v);
            all.Record(v);
        }
        a.Add(b);
        Assert.Equal(all.Count, a.Count);
        Assert.Equal(all.Min, a.Min);
        Assert.Equal(all.Max, a.Max);
        foreach (var p in new[] { 1.0, 50, 90, 99, 100 }) Assert.Equal(all.ValueAtPercentile(p), a.ValueAtPercentile(p));
    }

    [Fact]
    public void Huge_values_do_not_overflow()
    {
        var h = new LatencyHistogram();
        h.Record(long.MaxValue);
        Assert.Equal(long.MaxValue, h.ValueAtPercentile(50));
    }
}
