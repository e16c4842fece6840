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
}
