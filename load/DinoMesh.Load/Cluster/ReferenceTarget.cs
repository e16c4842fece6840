using DinoMesh.Load.Targets;

namespace DinoMesh.Load.Cluster;

/// <summary>
/// A single-node reference (native disk or bindfs, as the file-system benchmark has them) seen as a one-node
/// target, so a single-node scenario can be run on it in the same invocation and reported as a ratio.
/// </summary>
public sealed class ReferenceTarget(BenchTarget target) : ILoadTarget
{
    public string Name => target.Name;

    public string Description => target.Description;

    public IReadOnlyList<LoadNode> Nodes => [new LoadNode(target.Name, target.Root)];

    public INodeControl? Control => null;

    public string? Problem => target.Problem;

    public Task StartAsync(CancellationToken cancellationToken) => target.StartAsync(cancellationToken);

    public ValueTask DisposeAsync() => target.DisposeAsync();
}
