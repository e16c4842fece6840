namespace DinoMesh.Load.Runner;

/// <summary>A load phase that has just begun: what a live view shows while it runs.</summary>
public sealed record RunningPhase(string Scenario, bool IsWarmUp, LoadSimulation Load, LoadClock Clock, IReadOnlyList<StepTimeline> Steps);

/// <summary>Told when each load phase (warm-up, measured) of a scenario starts and ends; called on the runner's thread.</summary>
public interface IScenarioObserver
{
    void PhaseStarted(RunningPhase phase);

    void PhaseEnded(RunningPhase phase);
}
