namespace DinoMesh.Volume.Tests;

/// <summary>
/// The op window's own rules (<see cref="OpWindowGate"/>): a sequence is handed out only while it is less than the
/// window above the oldest one in flight, waiters go in arrival order, and every sequence given back lets them on,
/// so no commit waits for ever.
/// </summary>
public class OpWindowGateTests
{
    [Fact]
    public async Task A_sequence_waits_while_the_oldest_in_flight_is_a_window_below_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var gate = new OpWindowGate(4);
        var oldest = await gate.EnterAsync(ct);
        foreach (var _ in Enumerable.Range(0, 3)) gate.Exit(await gate.EnterAsync(ct));

        var fifth = gate.EnterAsync(ct);
        var fifthWaited = !fifth.IsCompleted;
        gate.Exit(oldest);

        Assert.Equal(1UL, oldest);
        Assert.True(fifthWaited, "sequence 5 was handed out while sequence 1 was in flight with a window of 4");
        Assert.Equal(5UL, await fifth.AsTask().WaitAsync(TimeSpan.FromSeconds(10), ct));
    }

    [Fact]
    public async Task Waiters_go_in_arrival_order_and_one_cancelled_takes_no_sequence()
    {
        var ct = TestContext.Current.CancellationToken;
        var gate = new OpWindowGate(2);
        var first = await gate.EnterAsync(ct);
        var second = await gate.EnterAsync(ct);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var a = gate.EnterAsync(ct).AsTask();
        var b = gate.EnterAsync(cancel.Token).AsTask();
        var c = gate.EnterAsync(ct).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b.WaitAsync(TimeSpan.FromSeconds(10), ct));

        gate.Exit(first);
        var seqA = await a.WaitAsync(TimeSpan.FromSeconds(10), ct);
        var cWaited = !c.IsCompleted;
        gate.Exit(second);
        var seqC = await c.WaitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.Equal((3UL, 4UL), (seqA, seqC));
        Assert.True(cWaited, "the third waiter was let in before there was room for it");
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public async Task Concurrent_commits_that_end_in_any_order_all_get_through_and_never_span_more_than_the_window()
    {
        var ct = TestContext.Current.CancellationToken;
        const int Window = 8, Callers = 16, CommitsEach = 200;
        var gate = new OpWindowGate(Window);
        var inFlight = new SortedSet<ulong>();
        var widest = 0UL;
        var random = new Random(7);
        var pauses = Enumerable.Range(0, Callers).Select(_ => random.Next(0, 3)).ToArray();

        async Task CallerAsync(int caller)
        {
            for (var i = 0; i < CommitsEach; i++)
            {
                using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
                if ((caller + i) % 17 == 0) cancel.CancelAfter(TimeSpan.FromMilliseconds(1));
                ulong seq;
                try
                {
                    seq = await gate.EnterAsync(cancel.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    continue;
                }
                lock (inFlight)
                {
                    inFlight.Add(seq);
                    widest = Math.Max(widest, inFlight.Max - inFlight.Min + 1);
                }
                if (pauses[caller] > 0) await Task.Delay(pauses[caller], ct);
                else await Task.Yield();
                lock (inFlight) inFlight.Remove(seq);
                gate.Exit(seq);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Callers).Select(CallerAsync)).WaitAsync(TimeSpan.FromSeconds(60), ct);

        Assert.InRange(widest, 1UL, (ulong)Window);
        Assert.Equal((0, 0), (gate.InFlight, gate.Waiting));
    }
}
