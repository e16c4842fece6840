using DinoMesh.Load.Scenarios;

namespace DinoMesh.Load.Cli;

/// <summary>A cluster load run's settings after parsing.</summary>
/// <param name="Scenarios">Which scenarios, in order.</param>
/// <param name="Nodes">Nodes of the throwaway cluster (0 when <paramref name="Mounts"/> are given).</param>
/// <param name="Mounts">Existing mounts to load instead of starting a cluster.</param>
/// <param name="References">native and/or bindfs, run beside a one-node target.</param>
/// <param name="ShareTimeout">How long the sharing probe waits for a file to show on the other nodes.</param>
/// <param name="Compare">An earlier report to print this run beside.</param>
/// <param name="Live">Show the live view (only on an interactive terminal).</param>
public sealed record LoadOptions(
    IReadOnlyList<ClusterScenario> Scenarios,
    int Nodes,
    IReadOnlyList<string> Mounts,
    LoadSpec Load,
    TimeSpan Duration,
    TimeSpan WarmUp,
    long MaxIterations,
    ClusterWorkload Workload,
    IReadOnlyList<string> References,
    string WorkDirectory,
    string OutputDirectory,
    string DinoDll,
    IReadOnlyList<string> DinoArgs,
    TimeSpan StartTimeout,
    TimeSpan StopTimeout,
    TimeSpan ShareTimeout,
    string? Compare,
    bool Live,
    string Command);
