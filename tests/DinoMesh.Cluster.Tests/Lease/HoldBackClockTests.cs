using System.Diagnostics;
using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The hold-back clocks on a real clock: a deadline moved later again and again does not pass before the last one; the
/// last passes once, not before it; nothing passes after disposal.
/// </summary>
public sealed class HoldBackClockTests
{
    public static TheoryData<string> Clocks => ["timerfd", "runtime timer"];

    [Theory]
    [MemberData(nameof(Clocks))]
    public async Task A_deadline_moved_later_passes_once_at_the_last_one(string kind)
    {
        var ct = TestContext.Current.CancellationToken;
        var passes = new List<long>();
        using var clock = Make(kind, () =>
        {
            lock (passes) passes.Add(Stopwatch.GetTimestamp());
        });
        // A writer's rounds: every 10 ms the deadline moves to a second ahead, for 300 ms (a second: a loaded machine
        // may stall this loop for a while, and only a stall longer than that would let the clock pass).
        var ahead = Stopwatch.Frequency;
        long due = 0;
        var until = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 3 / 10;
        while (Stopwatch.GetTimestamp() < until)
        {
            due = Stopwatch.GetTimestamp() + ahead;
            clock.Set(due);
            await Task.Delay(10, ct);
        }
        lock (passes) Assert.Empty(passes);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            lock (passes) if (passes.Count > 0) break;
            await Task.Delay(5, ct);
        }
        await Task.Delay(300, ct);
        lock (passes)
        {
            var at = Assert.Single(passes);
            Assert.True(at >= due, "the clock passed before its deadline");
        }
    }

    [Theory]
    [MemberData(nameof(Clocks))]
    public async Task An_earlier_deadline_replaces_a_later_one_and_nothing_passes_after_disposal(string kind)
    {
        var ct = TestContext.Current.CancellationToken;
        var passes = 0;
        var clock = Make(kind, () => Interlocked.Increment(ref passes));
        clock.Set(Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60);
        clock.Set(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 100);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Volatile.Read(ref passes) == 0 && DateTime.UtcNow < deadline) await Task.Delay(5, ct);
        Assert.Equal(1, Volatile.Read(ref passes));

        clock.Set(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20);
        clock.Dispose();
        await Task.Delay(200, ct);
        Assert.Equal(1, Volatile.Read(ref passes));
    }

    [Fact]
    public void The_clock_here_is_a_timerfd()
    {
        using var clock = HoldBackClocks.Create(() => { });
        Assert.IsType<TimerFdClock>(clock);
    }

    private static IHoldBackClock Make(string kind, Action onDue) =>
        kind == "timerfd" ? TimerFdClock.TryCreate(onDue) ?? throw new InvalidOperationException("no timerfd") : new RuntimeTimerClock(onDue);
}
