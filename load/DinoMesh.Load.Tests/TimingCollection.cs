namespace DinoMesh.Load.Tests;

/// <summary>
/// Tests that judge the runner by the wall clock (rates, ramps, warm-up). They run alone, after the parallel tests:
/// beside the scenario tests a 2-core machine stalled a 0.6 s run for 5 s and an injector for its whole duration.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "timing";
}
