using DinoMesh.Volume;
using Microsoft.Extensions.Time.Testing;

namespace DinoMesh.Volume.Tests;

/// <summary>df's free space is read from the disk at most once per bound, not once per statfs (one per file opened).</summary>
public sealed class FreeSpaceGaugeTests
{
    [Fact]
    public void Calls_within_the_bound_read_the_disk_once()
    {
        var time = new FakeTimeProvider();
        var reads = 0;
        var gauge = new FreeSpaceGauge(() => (1L << 20, 1000 + Interlocked.Increment(ref reads)), TimeSpan.FromMilliseconds(100), time);

        var answers = Enumerable.Range(0, 100).Select(_ =>
        {
            time.Advance(TimeSpan.FromMilliseconds(0.9));
            return gauge.Free();
        }).ToList();

        Assert.Equal(1, reads);
        Assert.All(answers, free => Assert.Equal(1001, free));
    }

    [Fact]
    public void A_call_after_the_bound_reads_the_disk_again()
    {
        var time = new FakeTimeProvider();
        var reads = 0;
        var gauge = new FreeSpaceGauge(() => (1L << 20, 1000 + Interlocked.Increment(ref reads)), TimeSpan.FromMilliseconds(20), time);
        Assert.Equal(1001, gauge.Free());

        time.Advance(TimeSpan.FromMilliseconds(19));
        Assert.Equal(1001, gauge.Free());
        time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal(1002, gauge.Free());
        Assert.Equal(2, reads);
    }
}
