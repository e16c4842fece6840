using DinoMesh.Volume;

namespace DinoMesh.Volume.Tests;

/// <summary>df's free space is read from the disk at most once per bound, not once per statfs (one per file opened).</summary>
public sealed class FreeSpaceGaugeTests
{
    [Fact]
    public void Calls_within_the_bound_read_the_disk_once()
    {
        var reads = 0;
        var gauge = new FreeSpaceGauge(() => 1000 + Interlocked.Increment(ref reads), TimeSpan.FromMinutes(1));

        var answers = Enumerable.Range(0, 100).Select(_ => gauge.Free()).ToList();

        Assert.Equal(1, reads);
        Assert.All(answers, free => Assert.Equal(1001, free));
    }

    [Fact]
    public async Task A_call_after_the_bound_reads_the_disk_again()
    {
        var ct = TestContext.Current.CancellationToken;
        var reads = 0;
        var gauge = new FreeSpaceGauge(() => 1000 + Interlocked.Increment(ref reads), TimeSpan.FromMilliseconds(20));
        Assert.Equal(1001, gauge.Free());

        await Task.Delay(60, ct);

        Assert.Equal(1002, gauge.Free());
        Assert.Equal(2, reads);
    }
}
