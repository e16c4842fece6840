using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Reporting;

/// <summary>
/// Everything one run of cluster scenarios measured: serialized as-is to JSON (which <c>--compare</c> reads back)
/// and rendered as the console table, Markdown and HTML.
/// </summary>
public sealed record LoadReport(
    DateTimeOffset Started,
    double DurationSeconds,
    string Command,
    MachineInfo Machine,
    string LoadAverageAtStart,
    string LoadAverageAtEnd,
    string Load,
    double WarmUpSeconds,
    IReadOnlyList<TargetRecord> Targets,
    IReadOnlyList<ScenarioRecord> Scenarios,
    IReadOnlyList<string> Warnings);

/// <summary>A target as it was set up: its nodes, what the sharing probe found, and how it ended.</summary>
public sealed record TargetRecord(
    string Name, string Description, IReadOnlyList<NodeRecord> Nodes, string Sharing, string SharingDetail, string LeaseDetail, string? Error, IReadOnlyList<string> StopNotes);

public sealed record NodeRecord(string Name, string Root, string? Address);

/// <summary>How a scenario ended on a target.</summary>
public enum ScenarioStatus
{
    /// <summary>Measured, with no failed call (or failures are what it measures).</summary>
    Measured,

    /// <summary>Measured, but some calls failed: the numbers are not comparable.</summary>
    Errors,

    /// <summary>Not run: the target lacks what the scenario needs (the shared tree, a lease holder, nodes).</summary>
    Needs,

    /// <summary>Set-up failed, the load hung, or a node died.</summary>
    Failed,

    /// <summary>Ctrl+C or SIGTERM.</summary>
    Cancelled,
}

/// <summary>One scenario on one target.</summary>
/// <param name="Unit">Unit of <paramref name="Headline"/>: ops/s or MB/s.</param>
/// <param name="Note">Why it did not measure (Needs, Failed), or null.</param>
public sealed record ScenarioRecord(
    string Scenario,
    string Target,
    ScenarioStatus Status,
    string? Note,
    string Unit,
    double? Headline,
    double WallSeconds,
    long Iterations,
    long Dropped,
    IReadOnlyList<StepRecord> Steps,
    IReadOnlyList<string> Findings)
{
    public bool Ran => Status is ScenarioStatus.Measured or ScenarioStatus.Errors;
}

/// <summary>
/// One step's totals over the measured load (warm-up excluded) and its course over time. Throughput is the step's
/// calls (bytes) over the scenario's wall time; latencies are in microseconds.
/// </summary>
public sealed record StepRecord(
    string Step,
    long Count,
    long Ok,
    long Failed,
    double OpsPerSecond,
    double MegabytesPerSecond,
    double P50Microseconds,
    double P90Microseconds,
    double P99Microseconds,
    double MaxMicroseconds,
    IReadOnlyDictionary<string, long> Errors,
    IReadOnlyList<TimelineBucket> Timeline);

/// <summary>Turns a runner result into a <see cref="ScenarioRecord"/>.</summary>
public static class ScenarioRecords
{
    public static ScenarioRecord From(string target, ScenarioResult result, string? targetProblem)
    {
        var wall = result.Wall.TotalSeconds;
        var endNs = (long)(result.Wall.TotalMilliseconds * 1e6);
        var steps = result.Steps.Select(s =>
        {
            var timeline = result.Timelines.FirstOrDefault(t => t.Name == s.Name)?.Buckets(endNs) ?? [];
            return new StepRecord(s.Name, s.Count, s.Ok, s.Failed,
                wall > 0 ? s.Count / wall : 0, wall > 0 ? s.Bytes / wall / 1e6 : 0,
                s.Latency.ValueAtPercentile(50) / 1e3, s.Latency.ValueAtPercentile(90) / 1e3, s.Latency.ValueAtPercentile(99) / 1e3, s.Latency.Max / 1e3,
                s.Errors.ToDictionary(), timeline);
        }).ToList();
        var status = result.StopReason switch
        {
            _ when targetProblem is not null => ScenarioStatus.Failed,
            StopReason.Cancelled => ScenarioStatus.Cancelled,
            StopReason.InitFailed => ScenarioStatus.Failed,
            _ when result.FailedCalls > 0 && !result.ToleratesErrors => ScenarioStatus.Errors,
            _ when result.Error is not null => ScenarioStatus.Failed,
            _ => ScenarioStatus.Measured,
        };
        var note = targetProblem ?? (result.StopReason == StopReason.InitFailed ? $"set-up failed: {result.Error}" : result.Error);
        return new ScenarioRecord(result.Name, target, status, note, result.Headline == Headline.MegabytesPerSecond ? "MB/s" : "ops/s",
            result.HeadlineValue, wall, result.CompletedIterations, result.Dropped, steps, result.Findings);
    }

    public static ScenarioRecord NotRun(string scenario, string target, ScenarioStatus status, string note) =>
        new(scenario, target, status, note, "", null, 0, 0, 0, [], []);
}
