namespace DinoMesh.Volume.Tests;

/// <summary>
/// The compactor's pause after a run found no room (ENOSPC or the free-space reserve): the first pause, doubled at each
/// failure in a row up to the longest, back to the first once a merged chunk is stored. Pure: no clock, no sleep.
/// </summary>
public sealed class CompactionPauseTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public void Failures_in_a_row_double_the_pause_up_to_the_longest()
    {
        var pause = new CompactionPause(Minute, 16 * Minute);
        var pauses = Enumerable.Range(0, 7).Select(_ => pause.Failed().TotalMinutes).ToArray();
        Assert.Equal([1, 2, 4, 8, 16, 16, 16], pauses);
        Assert.Equal(7, pause.InARow);
    }

    [Fact]
    public void A_stored_compaction_starts_the_pauses_again_from_the_first()
    {
        var pause = new CompactionPause(Minute, 16 * Minute);
        for (var i = 0; i < 5; i++) pause.Failed();
        pause.Stored();
        Assert.Equal(0, pause.InARow);
        Assert.Equal(Minute, pause.Failed());
        Assert.Equal(2 * Minute, pause.Failed());
    }

    [Fact]
    public void A_longest_below_the_first_bounds_every_pause()
    {
        var pause = new CompactionPause(Minute, TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(10), pause.Failed());
        Assert.Equal(TimeSpan.FromSeconds(10), pause.Failed());
    }

    [Fact]
    public void A_longest_that_is_not_a_power_of_two_of_the_first_is_reached_not_passed()
    {
        var pause = new CompactionPause(Minute, 10 * Minute);
        var pauses = Enumerable.Range(0, 6).Select(_ => pause.Failed().TotalMinutes).ToArray();
        Assert.Equal([1, 2, 4, 8, 10, 10], pauses);
    }
}
