using DinoMesh.Load.Fio;

namespace DinoMesh.Load.Reporting;

/// <summary>Everything one benchmark invocation measured; serialized as-is to JSON and rendered as tables.</summary>
public sealed record BenchReport(
    DateTimeOffset Started,
    double DurationSeconds,
    string Command,
    MachineInfo Machine,
    string LoadAverageAtStart,
    string LoadAverageAtEnd,
    WorkloadInfo Workload,
    IReadOnlyList<TargetInfo> Targets,
    IReadOnlyList<ScenarioSummary> Scenarios,
    IReadOnlyList<FioMeasurement> Fio,
    IReadOnlyList<string> Warnings);

/// <summary>The sizes the run used.</summary>
public sealed record WorkloadInfo(long FileSizeBytes, int BlockSizeBytes, int SmallFiles, int SmallFileSizeBytes, int Copies, int Runs);

/// <summary>A target as it was set up, and what went wrong with it, if anything.</summary>
public sealed record TargetInfo(string Name, string Description, string? Error, string? StopNote);

/// <summary>One scenario across targets: the unit of its headline and one series per target.</summary>
public sealed record ScenarioSummary(string Name, string Unit, IReadOnlyList<TargetSeries> Targets);

/// <summary>
/// One scenario on one target: the headline of every run (null for a run that failed or did not finish), their
/// median over valid runs, and each step's counts and latencies merged over all runs.
/// </summary>
public sealed record TargetSeries(string Target, IReadOnlyList<double?> Runs, double? Median, IReadOnlyList<StepSummary> Steps, IReadOnlyList<string> Problems);

/// <summary>
/// A step's totals over all runs. Throughputs are total count (bytes) over total scenario wall time, so a step
/// that shares its scenario with a timed finish step is charged for it. Latencies in microseconds.
/// </summary>
public sealed record StepSummary(
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
    IReadOnlyDictionary<string, long> Errors);
