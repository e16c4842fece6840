namespace DinoMesh.Load.Runner;

/// <summary>What a scenario's headline number counts.</summary>
public enum Headline
{
    /// <summary>Payload megabytes (10^6 bytes) per second of scenario wall time.</summary>
    MegabytesPerSecond,

    /// <summary>Completed iterations per second of scenario wall time.</summary>
    OperationsPerSecond,
}

/// <summary>
/// A named workload in the NBomber shape: an untimed <see cref="Init"/>, <see cref="Steps"/> run in order once per
/// iteration under a <see cref="LoadSimulation"/>, an optional timed <see cref="Finish"/> step run once after the
/// load (e.g. fsync + close, which belongs inside a write's wall time), and an untimed <see cref="Clean"/> that
/// always runs.
/// </summary>
public sealed record Scenario(string Name, IReadOnlyList<Step> Steps, LoadSimulation Load, Headline Headline)
{
    public Func<CancellationToken, Task>? Init { get; init; }

    public Step? Finish { get; init; }

    public Func<CancellationToken, Task>? Clean { get; init; }

    /// <summary>
    /// Load of the same shape run before the measured load and thrown away (JIT, first-touch costs, caches filling).
    /// Zero for none; ignored for <see cref="LoadShape.Iterations"/>, whose count is the work.
    /// </summary>
    public TimeSpan WarmUp { get; init; }

    /// <summary>
    /// Work that runs beside the measured load (e.g. killing a node mid-run), started when measurement starts with
    /// the load's clock, and awaited (bounded by the load's duration plus the hang grace) when the load ends.
    /// </summary>
    public Func<LoadClock, CancellationToken, Task>? Background { get; init; }

    /// <summary>Lines the scenario wants in the report after the run (e.g. a fail-over's error window).</summary>
    public Func<IReadOnlyList<string>>? Findings { get; init; }

    /// <summary>True when failed calls are part of what the scenario measures (fail-over) rather than a broken run.</summary>
    public bool ToleratesErrors { get; init; }
}
