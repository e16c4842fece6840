namespace DinoMesh.Load.Scenarios;

/// <summary>Every cluster scenario, in the order <c>dino-load all</c> runs them.</summary>
public static class ClusterScenarios
{
    public static IReadOnlyList<ClusterScenario> All { get; } =
    [
        new SmallFilesScenario(),
        new MetadataMixScenario(),
        new LargeFileScenario(),
        new PropagationScenario(),
        new ManyWritersScenario(),
        new HotFileScenario(),
        new FailoverScenario(),
    ];

    public static ClusterScenario? Find(string name) => All.FirstOrDefault(s => s.Name == name);
}
