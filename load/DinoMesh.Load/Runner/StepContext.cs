namespace DinoMesh.Load.Runner;

/// <summary>
/// What a step is told about the invocation: the scenario-wide iteration index (unique across copies, from 0),
/// the copy running it, and the scenario's cancellation.
/// </summary>
public readonly record struct StepContext(long Iteration, int Copy, CancellationToken CancellationToken);
