namespace DinoMesh.Load.Runner;

/// <summary>A scenario's copies did not return within its time limit plus grace: a call is blocked in the kernel.</summary>
public sealed class ScenarioHungException(string scenario, TimeSpan waited)
    : Exception($"scenario '{scenario}' did not return within {waited.TotalSeconds:0} s (a file system call is blocked)")
{
    public string Scenario { get; } = scenario;
}
