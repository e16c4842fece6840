namespace DinoMesh.Volume.Tests;

// The compactor's record of the files this node is writing (BusyFiles): bounded without forgetting a busy file.
public class BusyFilesTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(500);
    private const int Max = 64;

    [Fact]
    public void A_file_written_within_the_quiet_period_stays_busy_when_more_files_than_the_bound_are_written()
    {
        var busy = new BusyFiles(Quiet, Max);
        busy.Wrote(1, nowMs: 1_000);

        // Many more files written at once than the bound holds, all within file 1's quiet period.
        for (ulong ino = 100; ino < 100 + (4 * Max); ino++) busy.Wrote(ino, 1_200);

        Assert.True(busy.IsBusy(1, 1_400), "the file being written was forgotten");
        Assert.All(Enumerable.Range(100, 4 * Max), ino => Assert.True(busy.IsBusy((ulong)ino, 1_400)));
        Assert.Equal(1 + (4 * Max), busy.Count);
        Assert.False(busy.IsBusy(1, 1_500), "quiet after the quiet period");
    }

    [Fact]
    public void Past_the_bound_entries_older_than_the_quiet_period_are_evicted_at_most_once_per_quiet_period()
    {
        var busy = new BusyFiles(Quiet, Max);
        for (ulong ino = 0; ino < 2 * Max; ino++) busy.Wrote(ino, 1_000);
        var sweepsBefore = busy.Sweeps;
        Assert.True(sweepsBefore <= 1, $"{sweepsBefore} sweeps within one quiet period");

        // 600 ms later (past the quiet period) one more write: the old entries go, the new one stays.
        busy.Wrote(1_000, 1_600);
        Assert.Equal(sweepsBefore + 1, busy.Sweeps);
        Assert.Equal(1, busy.Count);
        Assert.True(busy.IsBusy(1_000, 1_700));

        // Writes within the next quiet period walk nothing more, however many there are.
        for (ulong ino = 2_000; ino < 2_000 + (4 * Max); ino++) busy.Wrote(ino, 1_700 + (long)(ino - 2_000));
        Assert.Equal(sweepsBefore + 1, busy.Sweeps);
        Assert.Equal(1 + (4 * Max), busy.Count);
    }

    [Fact]
    public void Writes_to_the_same_files_count_each_file_once()
    {
        var busy = new BusyFiles(Quiet, Max);
        for (var round = 0; round < 10; round++)
        {
            for (ulong ino = 0; ino < Max; ino++) busy.Wrote(ino, 1_000 + round);
        }

        Assert.Equal(Max, busy.Count);
        Assert.Equal(0, busy.Sweeps);
    }
}
