using System.Diagnostics;

namespace DinoMesh.Load.Runner;

/// <summary>
/// Runs a <see cref="Scenario"/> under its <see cref="LoadSimulation"/> and measures every step call. A blocked
/// system call cannot be cancelled, so the wait for the copies is itself bounded: past the time limit plus
/// <see cref="HangGrace"/> the scenario is declared hung (<see cref="ScenarioHungException"/>) and the caller must
/// tear the target down (unmounting a FUSE mount unblocks the calls).
/// </summary>
public sealed class ScenarioRunner
{
    public TimeSpan HangGrace { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan CleanTimeout { get; init; } = TimeSpan.FromSeconds(120);

    public async Task<ScenarioResult> RunAsync(Scenario scenario, CancellationToken cancellationToken)
    {
        ScenarioResult result;
        try
        {
            result = await RunLoadAsync(scenario, cancellationToken);
        }
        catch
        {
            // Clean runs even after a hang or cancellation: a scenario must not leave files behind if it can help it.
            await TryCleanAsync(scenario);
            throw;
        }
        var cleanError = await TryCleanAsync(scenario);
        return cleanError is null ? result : result with { Error = result.Error ?? $"clean failed: {cleanError}" };
    }

    private async Task<string?> TryCleanAsync(Scenario scenario)
    {
        if (scenario.Clean is null) return null;
        try
        {
            using var cleanCts = new CancellationTokenSource(CleanTimeout);
            await scenario.Clean(cleanCts.Token).WaitAsync(CleanTimeout, CancellationToken.None);
            return null;
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    private async Task<ScenarioResult> RunLoadAsync(Scenario scenario, CancellationToken cancellationToken)
    {
        if (scenario.Init is not null)
        {
            try
            {
                await scenario.Init(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return new ScenarioResult(scenario.Name, scenario.Headline, TimeSpan.Zero, 0, StopReason.InitFailed, [], e.Message);
            }
        }

        var load = scenario.Load;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(load.MaxDuration);
        var shared = new SharedCounters();
        var started = Stopwatch.GetTimestamp();
        var copies = new Task<StepStats[]>[load.Copies];
        for (var c = 0; c < copies.Length; c++)
        {
            var copy = c;
            copies[c] = Task.Run(() => RunCopyAsync(scenario, copy, shared, deadline.Token), CancellationToken.None);
        }

        StepStats[][] perCopy;
        try
        {
            perCopy = await Task.WhenAll(copies).WaitAsync(load.MaxDuration + HangGrace, CancellationToken.None);
        }
        catch (TimeoutException)
        {
            throw new ScenarioHungException(scenario.Name, load.MaxDuration + HangGrace);
        }

        var merged = scenario.Steps.Select(s => new StepStats(s.Name)).ToList();
        foreach (var stats in perCopy)
        {
            for (var i = 0; i < merged.Count; i++) merged[i].Add(stats[i]);
        }

        var stop = cancellationToken.IsCancellationRequested ? StopReason.Cancelled
            : shared.Started < load.MaxIterations && !load.DurationIsGoal ? StopReason.TimeLimit
            : StopReason.Completed;

        if (scenario.Finish is not null && stop == StopReason.Completed)
        {
            var finishStats = new StepStats(scenario.Finish.Name);
            await InvokeAsync(scenario.Finish, new StepContext(0, 0, cancellationToken), finishStats);
            merged.Add(finishStats);
        }

        var wall = Stopwatch.GetElapsedTime(started);
        return new ScenarioResult(scenario.Name, scenario.Headline, wall, shared.Completed, stop, merged, null);
    }

    private static async Task<StepStats[]> RunCopyAsync(Scenario scenario, int copy, SharedCounters shared, CancellationToken deadline)
    {
        var stats = scenario.Steps.Select(s => new StepStats(s.Name)).ToArray();
        while (!deadline.IsCancellationRequested)
        {
            var iteration = Interlocked.Increment(ref shared.Started) - 1;
            if (iteration >= scenario.Load.MaxIterations)
            {
                // Keep Started at the true number of iterations begun, so the stop reason can be told apart.
                Interlocked.Decrement(ref shared.Started);
                break;
            }
            var context = new StepContext(iteration, copy, deadline);
            var allOk = true;
            for (var s = 0; s < stats.Length && allOk; s++)
            {
                // As in NBomber, a failed step ends its iteration: the later steps depend on it.
                allOk = await InvokeAsync(scenario.Steps[s], context, stats[s]);
            }
            if (allOk) Interlocked.Increment(ref shared.Completed);
        }
        return stats;
    }

    private static async ValueTask<bool> InvokeAsync(Step step, StepContext context, StepStats stats)
    {
        var start = Stopwatch.GetTimestamp();
        StepResult result;
        try
        {
            result = await step.Action(context);
        }
        catch (Exception e)
        {
            result = StepResult.Fail($"{e.GetType().Name}: {e.Message}");
        }
        stats.Record(result, ElapsedNanoseconds(start));
        return result.IsOk;
    }

    private static long ElapsedNanoseconds(long start) =>
        (long)((Stopwatch.GetTimestamp() - start) * (1e9 / Stopwatch.Frequency));

    private sealed class SharedCounters
    {
        public long Started;
        public long Completed;
    }
}
