namespace DinoMesh.Load.Tests;

/// <summary>
/// Tests that start clusters of dino-node processes or a browser. They run one at a time and not beside other tests:
/// on a small machine, two clusters at once would measure each other.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessCollection
{
    public const string Name = "processes";
}
