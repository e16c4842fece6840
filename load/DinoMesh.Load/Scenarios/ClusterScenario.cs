using DinoMesh.Load.Cluster;
using DinoMesh.Load.Runner;

namespace DinoMesh.Load.Scenarios;

/// <summary>What a cluster scenario needs of its target before it can measure what its name says.</summary>
/// <param name="MinNodes">Fewest nodes it makes sense on.</param>
/// <param name="SharedNames">A name created on one node must appear on the others (the shared tree).</param>
/// <param name="SharedContent">Content written on one node must be readable on the others (chunk exchange).</param>
/// <param name="LeaseHolder">A node must hold the metadata lease (and the runner must be able to tell which).</param>
/// <param name="OwnedProcesses">The runner must have started the nodes (it kills one).</param>
public sealed record Requirements(int MinNodes = 1, bool SharedNames = false, bool SharedContent = false, bool LeaseHolder = false, bool OwnedProcesses = false)
{
    /// <summary>Null when <paramref name="target"/> as probed meets these; otherwise "needs ..." with the evidence.</summary>
    public string? Unmet(ILoadTarget target, SharingReport sharing)
    {
        var nodes = target.Nodes.Count;
        if (nodes < MinNodes) return $"needs at least {MinNodes} nodes (has {nodes}; use --nodes {MinNodes})";
        if (OwnedProcesses && target.Control is null) return "needs nodes the runner started itself (--nodes N), not --mount";
        if (SharedNames && !sharing.SharesNames) return $"needs the shared tree: {sharing.Detail}";
        if (SharedContent && !sharing.SharesContent) return $"needs chunk exchange between nodes: {sharing.Detail}";
        if (LeaseHolder && sharing.LeaseHolderPeerId is null) return $"needs the lease holder: {sharing.LeaseDetail}";
        return null;
    }
}

/// <summary>Sizes and bounds shared by the cluster scenarios.</summary>
/// <param name="SmallFileSize">Bytes per small file.</param>
/// <param name="FileSize">Size of large-file's file.</param>
/// <param name="BlockSize">Size of each sequential read/write call.</param>
/// <param name="HotFileSize">Size of hot-file's one file.</param>
/// <param name="PropagationTimeout">How long a change made on one node may take to appear on another before the wait fails.</param>
/// <param name="GracefulFailover">failover stops the lease holder with SIGTERM (it hands the lease over) instead of kill -9.</param>
public sealed record ClusterWorkload(int SmallFileSize, long FileSize, int BlockSize, long HotFileSize, TimeSpan PropagationTimeout, bool GracefulFailover = false);

/// <summary>Everything a cluster scenario is built from.</summary>
/// <param name="Target">The nodes.</param>
/// <param name="Sharing">What the probe found.</param>
/// <param name="RunDirectory">Directory name (relative to each node's root) of this invocation, unique per run.</param>
/// <param name="Workload">Sizes.</param>
/// <param name="Load">The load simulation for this scenario.</param>
/// <param name="WarmUp">Discarded load before the measurement.</param>
/// <param name="Log">Progress lines (node killed, holder found).</param>
public sealed record ScenarioContext(
    ILoadTarget Target, SharingReport Sharing, string RunDirectory, ClusterWorkload Workload, LoadSimulation Load, TimeSpan WarmUp, Action<string> Log)
{
    public IReadOnlyList<LoadNode> Nodes => Target.Nodes;

    /// <summary>This scenario's directory on <paramref name="node"/>: the same path on every node, so with a shared tree it is one directory.</summary>
    public string ScenarioDirectory(LoadNode node, string scenario) => Path.Combine(node.Root, RunDirectory, scenario);

    /// <summary>The node copy <paramref name="copy"/> works on: copies are dealt to the nodes in turn.</summary>
    public LoadNode NodeOf(int copy) => Nodes[copy % Nodes.Count];

    /// <summary>
    /// Creates <paramref name="relative"/> (below the scenario directory) on every node: once on the first node and
    /// then awaited elsewhere when the tree is shared, on each node otherwise.
    /// </summary>
    public async Task EnsureDirectoryAsync(string scenario, string relative, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.Combine(ScenarioDirectory(Nodes[0], scenario), relative));
        foreach (var node in Nodes.Skip(1))
        {
            var path = Path.Combine(ScenarioDirectory(node, scenario), relative);
            if (Sharing.SharesNames)
            {
                await NodeFiles.WaitUntilAsync(() => Directory.Exists(path), Workload.PropagationTimeout, cancellationToken,
                    $"{path} (made on {Nodes[0].Name}) did not appear on {node.Name}");
            }
            else
            {
                Directory.CreateDirectory(path);
            }
        }
    }

    /// <summary>Removes the scenario's directory from every node (once when shared), whatever is in it.</summary>
    public Task RemoveScenarioDirectoryAsync(string scenario)
    {
        // A node killed on purpose (fail-over) has no mount any more: remove through one that runs.
        var running = Nodes.Where(n => Target.Control?.IsRunning(n) ?? true).ToList();
        foreach (var node in Sharing.SharesNames ? running.Take(1) : running)
        {
            var path = ScenarioDirectory(node, scenario);
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        return Task.CompletedTask;
    }
}

/// <summary>
/// A named multi-node scenario: what it needs of the target, how many copies it runs by default, and how it builds
/// the runner's <see cref="Scenario"/> (named steps) for a target.
/// </summary>
public abstract class ClusterScenario
{
    public abstract string Name { get; }

    /// <summary>One sentence for --help and the report.</summary>
    public abstract string Description { get; }

    public abstract Requirements Requirements { get; }

    /// <summary>True when this scenario is meaningful on one node, so native and bindfs can be run beside it.</summary>
    public virtual bool HasReferences => Requirements.MinNodes == 1;

    public virtual int DefaultCopies(int nodes) => 2 * nodes;

    public abstract Scenario Build(ScenarioContext context);
}
