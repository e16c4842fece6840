namespace DinoMesh.Load.Runner;

/// <summary>Why a scenario's load stopped.</summary>
public enum StopReason
{
    /// <summary>All iterations ran (or, for a duration-goal simulation, the duration was reached).</summary>
    Completed,

    /// <summary>The time limit was hit before the iteration count: the scenario did not finish its work.</summary>
    TimeLimit,

    /// <summary>The run was cancelled (Ctrl+C, SIGTERM).</summary>
    Cancelled,

    /// <summary>Init threw; no load ran.</summary>
    InitFailed,
}

/// <summary>What one run of a <see cref="Scenario"/> measured (the warm-up excluded).</summary>
public sealed record ScenarioResult(
    string Name,
    Headline Headline,
    TimeSpan Wall,
    long CompletedIterations,
    StopReason StopReason,
    IReadOnlyList<StepStats> Steps,
    string? Error)
{
    /// <summary>Each step's calls over time during the measured load; empty when no load ran.</summary>
    public IReadOnlyList<StepTimeline> Timelines { get; init; } = [];

    /// <summary>Warm-up load run (and discarded) before the measurement.</summary>
    public TimeSpan WarmUp { get; init; }

    /// <summary>Inject arrivals that found every slot busy and were not started.</summary>
    public long Dropped { get; init; }

    /// <summary>What the scenario itself reported (e.g. a fail-over's error window).</summary>
    public IReadOnlyList<string> Findings { get; init; } = [];

    /// <summary>True when failed calls are part of what was measured (see <see cref="Scenario.ToleratesErrors"/>).</summary>
    public bool ToleratesErrors { get; init; }

    public long FailedCalls => Steps.Sum(s => s.Failed);

    public long Bytes => Steps.Sum(s => s.Bytes);

    /// <summary>True when the work finished with no failed call: only such runs are comparable.</summary>
    public bool IsValid => StopReason == StopReason.Completed && (FailedCalls == 0 || ToleratesErrors) && Wall > TimeSpan.Zero;

    /// <summary>The headline throughput, or null when the run is not <see cref="IsValid"/>.</summary>
    public double? HeadlineValue => !IsValid
        ? null
        : Headline == Headline.MegabytesPerSecond
            ? Bytes / Wall.TotalSeconds / 1e6
            : CompletedIterations / Wall.TotalSeconds;
}
