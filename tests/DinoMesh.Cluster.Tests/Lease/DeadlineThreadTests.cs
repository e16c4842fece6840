using System.Collections.Concurrent;
using System.Diagnostics;
using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The holder's deadline for held commit notices and deferred appends is kept by a thread of its own, which runs the
/// action itself (a runtime timer woke its own thread and then a pool worker for every pass).
/// </summary>
public sealed class DeadlineThreadTests
{
    [Fact]
    public void The_action_runs_on_the_deadline_thread_not_on_a_pool_worker_and_not_before_the_deadline()
    {
        var passes = new BlockingCollection<(bool Pool, string? Name, long At)>();
        using var clock = new DeadlineThread("test-deadline", () => passes.Add((Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name, Stopwatch.GetTimestamp())));
        var due = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 50; // 20 ms
        clock.Set(due);

        Assert.True(passes.TryTake(out var pass, TimeSpan.FromSeconds(5)), "the deadline never passed");
        Assert.False(pass.Pool);
        Assert.Equal("test-deadline", pass.Name);
        Assert.True(pass.At >= due, "the action ran before its deadline");
        Assert.False(passes.TryTake(out _, TimeSpan.FromMilliseconds(100)), "one deadline ran the action twice");
    }

    [Fact]
    public void An_earlier_deadline_wakes_the_thread_and_a_later_one_does_not_postpone_it()
    {
        var passes = new BlockingCollection<long>();
        using var clock = new DeadlineThread("test-deadline", () => passes.Add(Stopwatch.GetTimestamp()));
        var start = Stopwatch.GetTimestamp();
        clock.Set(start + Stopwatch.Frequency * 10);                       // 10 s: the thread sleeps towards it
        Thread.Sleep(20);
        var early = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 100;  // 10 ms
        clock.Set(early);
        clock.Set(early + Stopwatch.Frequency * 5);                        // later: ignored while the early one is set

        Assert.True(passes.TryTake(out var at, TimeSpan.FromSeconds(3)), "the earlier deadline did not wake the thread");
        Assert.True(at >= early);
        Assert.True(Stopwatch.GetElapsedTime(start, at) < TimeSpan.FromSeconds(2));
        Assert.False(passes.TryTake(out _, TimeSpan.FromMilliseconds(200)), "a replaced deadline ran the action as well");

        // Once passed, a new deadline is taken as it comes.
        clock.Set(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 100);
        Assert.True(passes.TryTake(out _, TimeSpan.FromSeconds(3)), "a deadline set after a pass never passed");
    }

    [Fact]
    public void A_disposed_clock_runs_nothing_more()
    {
        var passes = 0;
        var clock = new DeadlineThread("test-deadline", () => Interlocked.Increment(ref passes));
        clock.Set(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20);   // 50 ms
        clock.Dispose();
        clock.Set(Stopwatch.GetTimestamp());
        Thread.Sleep(200);
        Assert.Equal(0, Volatile.Read(ref passes));
    }
}
