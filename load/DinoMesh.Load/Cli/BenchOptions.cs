namespace DinoMesh.Load.Cli;

/// <summary>The benchmark's settings after parsing and applying --quick.</summary>
public sealed record BenchOptions(
    IReadOnlyList<string> Targets,
    int Runs,
    long FileSize,
    int BlockSize,
    int SmallFiles,
    int SmallFileSize,
    int Copies,
    TimeSpan ScenarioTimeLimit,
    bool Fio,
    long FioSize,
    TimeSpan FioRuntime,
    string WorkDirectory,
    string OutputDirectory,
    string DinoDll,
    TimeSpan MountTimeout,
    TimeSpan StopTimeout,
    string Command,
    bool DropCaches = true,
    IReadOnlyList<string>? DinoArgs = null)
{
    public static IReadOnlyList<string> KnownTargets { get; } = ["native", "bindfs", "dino"];
}
