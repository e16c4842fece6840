namespace DinoMesh.Load.Cluster;

/// <summary>
/// Directories that are already mounted (dino-node on this or other machines, reached however the user likes):
/// the runner puts load on them and touches nothing else. Without data directories it cannot ask the nodes for
/// their peers or kill them, so scenarios that need that say so.
/// </summary>
public sealed class ExistingMounts(IReadOnlyList<string> mountPoints) : ILoadTarget
{
    public string Name => "mounts";

    public string Description => $"existing mounts {string.Join(", ", mountPoints)}";

    public IReadOnlyList<LoadNode> Nodes { get; } =
        mountPoints.Select((m, i) => new LoadNode($"node{i + 1}", Path.GetFullPath(m))).ToList();

    public INodeControl? Control => null;

    public string? Problem => Nodes.FirstOrDefault(n => !Directory.Exists(n.Root)) is { } gone ? $"{gone.Root} is gone" : null;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var node in Nodes)
        {
            if (!Directory.Exists(node.Root)) throw new DirectoryNotFoundException($"--mount {node.Root} is not a directory");
        }
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
