using System.Collections.Concurrent;
using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Tests;

[Collection(TimingCollection.Name)]
public sealed class ScenarioRunnerTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Iterations_load_runs_each_index_exactly_once_across_copies()
    {
        var seen = new ConcurrentBag<long>();
        var step = Step.Sync("record", c =>
        {
            seen.Add(c.Iteration);
            return StepResult.Ok(10);
        });
        var scenario = new Scenario("s", [step], LoadSimulation.Iterations(1000, Limit, copies: 4), Headline.OperationsPerSecond);

        var result = await new ScenarioRunner().RunAsync(scenario, TestContext.Current.CancellationToken);

        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), seen.Order());
        Assert.Equal(StopReason.Completed, result.StopReason);
        Assert.Equal(1000, result.CompletedIterations);
        Assert.Equal(1000, result.Steps[0].Ok);
        Assert.Equal(10_000, result.Bytes);
        Assert.True(result.IsValid);
        Assert.NotNull(result.HeadlineValue);
    }

    [Fact]
    public async Task A_failed_step_ends_its_iteration_and_invalidates_the_run()
    {
        var second = 0;
        var scenario = new Scenario("s",
            [
                Step.Sync("first", c => c.Iteration % 2 == 0 ? StepResult.Ok() : StepResult.Fail("odd")),
                Step.Sync("second", _ =>
                {
                    second++;
                    return StepResult.Ok();
                }),
            ],
            LoadSimulation.Iterations(10, Limit), Headline.OperationsPerSecond);

        var result = await new ScenarioRunner().RunAsync(scenario, TestContext.Current.CancellationToken);

        Assert.Equal(5, second);
        Assert.Equal(5, result.Steps[0].Failed);
        Assert.Equal(5, result.Steps[0].Errors["odd"]);
        Assert.Equal(5, result.CompletedIterations);
        Assert.False(result.IsValid);
        Assert.Null(result.HeadlineValue);
    }

    [Fact]
    public async Task An_exception_counts_as_a_failure_with_its_message()
    {
        var scenario = new Scenario("s", [Step.Sync("boom", _ => throw new IOException("disk gone"))],
            LoadSimulation.Iterations(3, Limit), Headline.OperationsPerSecond);

        var result = await new ScenarioRunner().RunAsync(scenario, TestContext.Current.CancellationToken);

        Assert.Equal(3, result.Steps[0].Failed);
        Assert.Contains("IOException: disk gone", result.Steps[0].Errors.Keys);
    }

    [Fact]
    public async Task Hitting_the_time_limit_stops_the_load_and_marks_it_incomplete()
    {
        var step = new Step("slow", async c =>
        {
            await Task.Delay(20, CancellationToken.None);
            return StepResult.Ok();
        });
        var scenario = new Scenario("s", [step], LoadSimulation.Iterations(1_000_000, TimeSpan.FromMilliseconds(200)), Headline.OperationsPerSecond);

        var result = await new ScenarioRunner().RunAsync(scenario, TestContext.Current.CancellationToken);

        Assert.Equal(StopReason.TimeLimit, result.StopReason);
        Assert.InRange(result.CompletedIterations, 1, 100);
        Assert.Null(result.HeadlineValue);
    }

    [Fact]
    public async Task Every_copy_runs_and_the_background_wakes_on_time_while_each_copy_blocks_its_thread()
    {
        // Each copy's step blocks its thread, as a system call into a busy mount does, with more copies than cores.
        // A copy is a concurrent user: all of them must be running within the first second, and the background
        // (a failover's timed kill) must wake near its time, not when a starved thread pool gets round to it (it adds
        // a thread about every half second).
        const int copies = 12;
        var clock = new System.Diagnostics.Stopwatch();
        var firstRun = new ConcurrentDictionary<int, TimeSpan>();
        var step = Step.Sync("block", c =>
        {
            firstRun.TryAdd(c.Copy, clock.Elapsed);
            Thread.Sleep(20);
            return StepResult.Ok();
        });
        TimeSpan? woke = null;
        var scenario = new Scenario("s", [step], LoadSimulation.KeepConstant(copies, TimeSpan.FromSeconds(2), 1_000_000), Headline.OperationsPerSecond)
        {
            Background = async (load, ct) =>
            {
                await Task.Delay(200, ct);
                woke = load.Elapsed;
            },
        };

        clock.Start();
        var result = await new ScenarioRunner().RunAsync(scenario, TestContext.Current.CancellationToken);

        Assert.Null(result.Error);
        Assert.Equal(copies, firstRun.Count);
        Assert.All(firstRun.Values, started => Assert.True(started < TimeSpan.FromSeconds(1), $"a copy first ran at {started}"));
        Assert.NotNull(woke);
        // Due at 0.2 s (a timer may fire a little early).
        Assert.InRange(woke.Value, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Concurrent_load_ends_normally_at_its_duration()
    {
        var step = new Step("tick", async _ =>
        {
            await Task.Delay(5, CancellationToken.None);
            return StepResult.Ok();
        });
        var scenario = new Scenario("s", [step], LoadSimulation.Concurrent(3, TimeSpan.FromMilliseconds(200), 1_000_000), Headline.OperationsPerSecond);

        var result = await new ScenarioRunner().RunAsync(scenario, TestContext.Current.CancellationToken);

        Assert.Equal(StopReason.Completed, result.StopReason);
        Assert.InRange(result.Wall, TimeSpan.FromMilliseconds(190), TimeSpan.FromSeconds(10));
        Assert.True(result.CompletedIterations > 3);
    }

    [Fact]
    public async Task Finish_step_runs_once_inside_the_wall_time_and_clean_always_runs()
    {
        var cleaned = false;
        var scenario = new Scenario("s", [Step.Sync("w", _ => StepResult.Ok(1_000_000))], LoadSimulation.Iterations(4, Limit), Headline.MegabytesPerSecond)
        {
            Finish = new Step("flush", async _ =>
            {
                await Task.Delay(100, CancellationToken.None);
                return StepResult.Ok();
            }),
            Clean = _ =>
            {
                cleaned = true;
                return Task.CompletedTask;
            },
        };

        var result = await new ScenarioRunner().RunAsync(scenario, TestContext.Current.CancellationToken);

        Assert.True(cleaned);
        Assert.Equal(["w", "flush"], result.Steps.Select(s => s.Name));
        Assert.Equal(1, result.Steps[1].Count);
        // A 100 ms timer can fire a little early on a coarse clock; 90 ms still proves the finish step is inside the wall.
        Assert.True(result.Wall >= TimeSpan.FromMilliseconds(90), $"wall {result.Wall.TotalMilliseconds} ms");
        // 4 MB over at least 0.09 s: the finish step's time is in the denominator (without it the rate would be far higher).
        Assert.InRange(result.HeadlineValue!.Value, 0.01, 4.0 / 0.09);
    }

    [Fact]
    public async Task Failing_init_runs_no_load_but_still_cleans()
    {
        var ran = false;
        var cleaned = false;
        var scenario = new Scenario("s", [Step.Sync("w", _ =>
            {
                ran = true;
                return StepResult.Ok();
            })], LoadSimulation.Iterations(4, Limit), Headline.OperationsPerSecond)
        {
            Init = _ => throw new InvalidOperationException("no file"),
            Clean = _ =>
            {
                cleaned = true;
                return Task.CompletedTask;
            },
        };

        var result = await new ScenarioRunner().RunAsync(scenario, TestContext.Current.CancellationToken);

        Assert.False(ran);
        Assert.True(cleaned);
        Assert.Equal(StopReason.InitFailed, result.StopReason);
        Assert.Equal("no file", result.Error);
    }

    [Fact]
    public async Task A_blocked_step_is_reported_as_a_hang_after_limit_plus_grace()
    {
        using var gate = new ManualResetEventSlim();
        try
        {
            var scenario = new Scenario("stuck", [Step.Sync("block", _ =>
                {
                    gate.Wait(TimeSpan.FromSeconds(30));
                    return StepResult.Ok();
                })], LoadSimulation.Iterations(1, TimeSpan.FromMilliseconds(100)), Headline.OperationsPerSecond);
            var runner = new ScenarioRunner { HangGrace = TimeSpan.FromMilliseconds(200) };

            var e = await Assert.ThrowsAsync<ScenarioHungException>(() => runner.RunAsync(scenario, TestContext.Current.CancellationToken));

            Assert.Equal("stuck", e.Scenario);
        }
        finally
        {
            gate.Set(); // release the blocked thread so the test leaves nothing behind
        }
    }

    [Fact]
    public void Load_simulations_must_be_bounded()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LoadSimulation.Iterations(10, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => LoadSimulation.Concurrent(0, TimeSpan.FromSeconds(1), 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => LoadSimulation.Iterations(-1, TimeSpan.FromSeconds(1)));
    }
}
