using System.Collections.Concurrent;
using System.Diagnostics;

namespace DinoMesh.Load.Runner;

/// <summary>
/// Runs a <see cref="Scenario"/> under its <see cref="LoadSimulation"/> (after an unrecorded warm-up of the same
/// shape, if the scenario has one) and measures every step call, in totals and over time. A blocked system call
/// cannot be cancelled, so the wait for the copies is itself bounded: past the time limit plus
/// <see cref="HangGrace"/> the scenario is declared hung (<see cref="ScenarioHungException"/>) and the caller must
/// tear the target down (unmounting a FUSE mount unblocks the calls).
/// </summary>
public sealed class ScenarioRunner
{
    public TimeSpan HangGrace { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan CleanTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Told when each phase starts and ends (a live view); null for none.</summary>
    public IScenarioObserver? Observer { get; init; }

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
                return new ScenarioResult(scenario.Name, scenario.Headline, TimeSpan.Zero, 0, StopReason.InitFailed, [], e.Message)
                {
                    ToleratesErrors = scenario.ToleratesErrors,
                };
            }
        }

        var load = scenario.Load;
        // One counter across warm-up and measurement, so iteration numbers (file names) never repeat.
        var counters = new SharedCounters();
        var warmUp = load.DurationIsGoal && scenario.WarmUp > TimeSpan.Zero ? scenario.WarmUp : TimeSpan.Zero;
        if (warmUp > TimeSpan.Zero)
        {
            var warm = load.WithDuration(warmUp);
            await RunPhaseAsync(scenario, warm, isWarmUp: true, counters, background: null, cancellationToken);
            counters.Completed = 0;
            counters.StartedInPhase = 0;
            counters.Dropped = 0;
        }
        if (cancellationToken.IsCancellationRequested)
        {
            return new ScenarioResult(scenario.Name, scenario.Headline, TimeSpan.Zero, 0, StopReason.Cancelled, [], null)
            {
                WarmUp = warmUp,
                ToleratesErrors = scenario.ToleratesErrors,
            };
        }

        var phase = await RunPhaseAsync(scenario, load, isWarmUp: false, counters, scenario.Background, cancellationToken);
        var merged = phase.Stats;
        var stop = cancellationToken.IsCancellationRequested ? StopReason.Cancelled
            : counters.StartedInPhase < load.MaxIterations && !load.DurationIsGoal ? StopReason.TimeLimit
            : StopReason.Completed;

        if (scenario.Finish is not null && stop == StopReason.Completed)
        {
            var finishStats = new StepStats(scenario.Finish.Name);
            await InvokeAsync(scenario.Finish, new StepContext(0, 0, cancellationToken), finishStats, timeline: null, phase.Clock);
            merged.Add(finishStats);
        }

        var wall = phase.Clock.Elapsed;
        IReadOnlyList<string> findings = [];
        if (scenario.Findings is not null)
        {
            try
            {
                findings = scenario.Findings();
            }
            catch (Exception e)
            {
                findings = [$"findings failed: {e.Message}"];
            }
        }
        return new ScenarioResult(scenario.Name, scenario.Headline, wall, counters.Completed, stop, merged, phase.BackgroundError)
        {
            Timelines = phase.Timelines,
            WarmUp = warmUp,
            Dropped = counters.Dropped,
            Findings = findings,
            ToleratesErrors = scenario.ToleratesErrors,
        };
    }

    private async Task<PhaseOutcome> RunPhaseAsync(
        Scenario scenario, LoadSimulation load, bool isWarmUp, SharedCounters counters,
        Func<LoadClock, CancellationToken, Task>? background, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        EnsureThreadsFor(load.Copies);
        var width = StepTimeline.WidthFor(load.MaxDuration);
        var timelines = scenario.Steps.Select(s => new StepTimeline(s.Name, width)).ToList();
        var clock = new LoadClock();
        deadline.CancelAfter(load.MaxDuration);
        var running = new RunningPhase(scenario.Name, isWarmUp, load, clock, timelines);
        Observer?.PhaseStarted(running);
        var phase = new Phase(scenario, load, counters, timelines, clock, deadline.Token, cancellationToken);
        var backgroundTask = background is null ? Task.CompletedTask : Task.Run(() => background(clock, deadline.Token), CancellationToken.None);

        Task<StepStats[]> work = load.Shape == LoadShape.Inject
            ? Task.Run(() => phase.InjectAsync(), CancellationToken.None)
            : Task.Run(() => phase.LoopAllAsync(), CancellationToken.None);
        StepStats[] stats;
        string? backgroundError = null;
        try
        {
            stats = await work.WaitAsync(load.MaxDuration + HangGrace, CancellationToken.None);
            try
            {
                await backgroundTask.WaitAsync(HangGrace, CancellationToken.None);
            }
            catch (Exception e) when (e is not TimeoutException)
            {
                backgroundError = e is OperationCanceledException ? null : $"background: {e.Message}";
            }
        }
        catch (TimeoutException)
        {
            throw new ScenarioHungException(scenario.Name, load.MaxDuration + HangGrace);
        }
        finally
        {
            Observer?.PhaseEnded(running);
        }
        return new PhaseOutcome([.. stats], timelines, clock, backgroundError);
    }

    /// <summary>
    /// A step blocks its thread for as long as its system call takes (a write into a busy mount, a stat waiting on a
    /// commit), and the thread pool adds threads beyond its minimum only about twice a second. With more copies than
    /// that minimum (the core count), copies would start seconds late or not at all (4 of 12 ran in a 2 s load on
    /// 2 cores), and the runner's own timers (the failover's timed stop, inject arrivals) would wait behind them. So
    /// the minimum is raised to one thread per copy plus room for the runner and the steps' continuations; it is only
    /// ever raised, since it belongs to the whole process.
    /// </summary>
    private static void EnsureThreadsFor(int copies)
    {
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        var wanted = copies + 2 * Environment.ProcessorCount + 4;
        if (workers < wanted) ThreadPool.SetMinThreads(wanted, completionPorts);
    }

    private static async ValueTask<bool> InvokeAsync(Step step, StepContext context, StepStats stats, StepTimeline? timeline, LoadClock clock)
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
        var end = Stopwatch.GetTimestamp();
        var latency = (long)((end - start) * (1e9 / Stopwatch.Frequency));
        stats.Record(result, latency);
        timeline?.Record(clock.ToNanoseconds(end), latency, result.IsOk, result.Bytes);
        return result.IsOk;
    }

    private sealed record PhaseOutcome(List<StepStats> Stats, IReadOnlyList<StepTimeline> Timelines, LoadClock Clock, string? BackgroundError);

    private sealed class SharedCounters
    {
        public long Next;
        public long StartedInPhase;
        public long Completed;
        public long Dropped;
    }

    /// <summary>One load phase: its copies (or injection schedule), counters and deadline.</summary>
    private sealed class Phase(
        Scenario scenario, LoadSimulation load, SharedCounters counters, IReadOnlyList<StepTimeline> timelines, LoadClock clock, CancellationToken deadline,
        CancellationToken cancellation)
    {
        public async Task<StepStats[]> LoopAllAsync()
        {
            var copies = new Task<StepStats[]>[load.Copies];
            for (var c = 0; c < copies.Length; c++)
            {
                var copy = c;
                copies[c] = Task.Run(() => LoopAsync(copy), CancellationToken.None);
            }
            return Merge(await Task.WhenAll(copies));
        }

        /// <summary>Starts an iteration every 1/rate seconds on a free slot; an arrival with no free slot is dropped.</summary>
        public async Task<StepStats[]> InjectAsync()
        {
            var perSlot = Enumerable.Range(0, load.Copies).Select(_ => NewStats()).ToArray();
            var running = new Task[load.Copies];
            var free = new ConcurrentQueue<int>(Enumerable.Range(0, load.Copies));
            long arrivals = 0;
            while (!deadline.IsCancellationRequested)
            {
                // Arrival n is due at n / rate; only those due before the end of the duration (a late timer must
                // not add arrivals past it): rate x duration in all.
                var total = (long)Math.Ceiling(load.MaxDuration.TotalSeconds * load.Rate);
                var due = Math.Min((long)Math.Floor(clock.Elapsed.TotalSeconds * load.Rate) + 1, total);
                if (arrivals >= total) break;
                for (; arrivals < due && !deadline.IsCancellationRequested; arrivals++)
                {
                    if (!TryClaim(out var iteration)) return await DrainAsync(running, perSlot);
                    if (!free.TryDequeue(out var slot))
                    {
                        Unclaim();
                        Interlocked.Increment(ref counters.Dropped);
                        continue;
                    }
                    running[slot] = Task.Run(async () =>
                    {
                        try
                        {
                            await IterateAsync(iteration, slot, perSlot[slot]);
                        }
                        finally
                        {
                            free.Enqueue(slot);
                        }
                    }, CancellationToken.None);
                }
                var next = TimeSpan.FromSeconds(arrivals / load.Rate) - clock.Elapsed;
                try
                {
                    await Task.Delay(next > TimeSpan.FromMilliseconds(1) ? next : TimeSpan.FromMilliseconds(1), deadline);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            return await DrainAsync(running, perSlot);
        }

        private async Task<StepStats[]> DrainAsync(Task[] running, StepStats[][] perSlot)
        {
            await Task.WhenAll(running.Where(t => t is not null));
            return Merge(perSlot);
        }

        private StepStats[] NewStats() => scenario.Steps.Select(s => new StepStats(s.Name)).ToArray();

        private StepStats[] Merge(StepStats[][] parts)
        {
            var merged = NewStats();
            foreach (var part in parts)
            {
                for (var i = 0; i < merged.Length; i++) merged[i].Add(part[i]);
            }
            return merged;
        }

        private async Task<StepStats[]> LoopAsync(int copy)
        {
            var stats = NewStats();
            while (!deadline.IsCancellationRequested)
            {
                if (copy >= load.ActiveCopies(clock.Elapsed))
                {
                    if (load.IsRetired(copy, clock.Elapsed)) break;
                    try
                    {
                        await Task.Delay(10, deadline);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                    continue;
                }
                if (!TryClaim(out var iteration)) break;
                await IterateAsync(iteration, copy, stats);
            }
            return stats;
        }

        private bool TryClaim(out long iteration)
        {
            var inPhase = Interlocked.Increment(ref counters.StartedInPhase);
            if (inPhase > load.MaxIterations)
            {
                // Keep the count at the true number of iterations begun, so the stop reason can be told apart.
                Interlocked.Decrement(ref counters.StartedInPhase);
                iteration = -1;
                return false;
            }
            iteration = Interlocked.Increment(ref counters.Next) - 1;
            return true;
        }

        private void Unclaim() => Interlocked.Decrement(ref counters.StartedInPhase);

        private async Task IterateAsync(long iteration, int copy, StepStats[] stats)
        {
            // Steps get the run's cancellation, not the phase deadline: the deadline stops new iterations, while one
            // already under way finishes (a large write cut short at the deadline would count as a failure).
            var context = new StepContext(iteration, copy, cancellation);
            var allOk = true;
            for (var s = 0; s < stats.Length && allOk; s++)
            {
                // As in NBomber, a failed step ends its iteration: the later steps depend on it.
                allOk = await InvokeAsync(scenario.Steps[s], context, stats[s], timelines[s], clock);
            }
            if (allOk) Interlocked.Increment(ref counters.Completed);
        }
    }
}
