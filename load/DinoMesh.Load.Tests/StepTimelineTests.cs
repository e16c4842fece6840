using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Tests;

public sealed class StepTimelineTests
{
    private const long Second = 1_000_000_000;

    [Fact]
    public void Calls_land_in_the_interval_they_ended_in_and_silent_intervals_are_zero()
    {
        var t = new StepTimeline("s", TimeSpan.FromSeconds(1));
        t.Record(Second / 2, 1_000, ok: true, bytes: 10);
        t.Record(Second / 2 + 1, 3_000, ok: false, bytes: 0);
        t.Record(3 * Second + 5, 2_000_000, ok: true, bytes: 0);

        var buckets = t.Buckets(4 * Second);

        Assert.Equal(4, buckets.Count);
        Assert.Equal((1, 1, 10L), (buckets[0].Ok, buckets[0].Failed, buckets[0].Bytes));
        Assert.Equal(0, buckets[1].Ok + buckets[1].Failed);
        Assert.Equal(0, buckets[2].OpsPerSecond);
        Assert.Equal(1, buckets[3].Ok);
        Assert.InRange(buckets[3].P99Microseconds, 2_000, 2_070);
        Assert.Equal((2, 1), t.Totals);
    }

    [Fact]
    public void A_sliver_at_the_end_joins_the_interval_before_it()
    {
        var t = new StepTimeline("s", TimeSpan.FromSeconds(1));
        for (var i = 0; i < 10; i++) t.Record(i * Second / 10, 1, ok: true, bytes: 0);
        t.Record(Second + Second / 100, 1, ok: true, bytes: 0);

        var buckets = t.Buckets(Second + Second / 50);

        var only = Assert.Single(buckets);
        Assert.Equal(11, only.Ok);
        Assert.Equal(1.02, only.Seconds, 3);
    }

    [Fact]
    public void Long_loads_get_wider_intervals_so_charts_stay_readable()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), StepTimeline.WidthFor(TimeSpan.FromSeconds(20)));
        Assert.Equal(TimeSpan.FromSeconds(2), StepTimeline.WidthFor(TimeSpan.FromMinutes(10)));
        Assert.Equal(TimeSpan.FromSeconds(12), StepTimeline.WidthFor(TimeSpan.FromHours(1)));
    }
}
