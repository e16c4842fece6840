using DinoMesh.Cluster.Chunks;

namespace DinoMesh.Chunks.Tests;

/// <summary>The sweep runs often enough that a short grace period gives the space back soon after it ends.</summary>
public sealed class SweepCadenceTests
{
    [Theory]
    [InlineData(3600, 10_000)] // the default grace: the usual 10 s
    [InlineData(40, 10_000)]
    [InlineData(30, 7_500)] // a quarter of the grace once that is shorter than 10 s
    [InlineData(5, 1_250)]
    [InlineData(2, 1_000)] // never more than once a second
    public void The_sweep_runs_every_quarter_grace_when_that_is_sooner_than_the_interval(int graceSeconds, int expectedMs)
    {
        var options = new ChunkOptions { GcGrace = TimeSpan.FromSeconds(graceSeconds) };

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), options.SweepEvery);
    }

    [Fact]
    public void A_shorter_configured_interval_is_kept()
    {
        var options = new ChunkOptions { GcGrace = TimeSpan.FromHours(1), SweepInterval = TimeSpan.FromMilliseconds(200) };

        Assert.Equal(TimeSpan.FromMilliseconds(200), options.SweepEvery);
    }
}
