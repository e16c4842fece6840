using System.Text.Json;

namespace DinoMesh.Load.Cluster;

/// <summary>
/// One node a scenario can put load on: the directory where this node serves the volume (its mount), and, for
/// nodes the runner started itself, the data directory its CLI is asked through and the address it listens on.
/// </summary>
public sealed record LoadNode(string Name, string Root, string? DataDirectory = null, string? Address = null);

/// <summary>
/// What the scenarios run against: one or more nodes' mounts. A cluster the runner started (<see cref="LocalCluster"/>),
/// mounts that already exist (<see cref="ExistingMounts"/>, e.g. on real machines), or a single-node reference
/// (native disk, bindfs). Started before the scenarios and always disposed afterwards.
/// </summary>
public interface ILoadTarget : IAsyncDisposable
{
    /// <summary>Short name for tables: dino, mounts, native, bindfs.</summary>
    string Name { get; }

    /// <summary>One line for the report: what this target is and where.</summary>
    string Description { get; }

    /// <summary>The nodes, in a fixed order (node 0 first); valid after <see cref="StartAsync"/>.</summary>
    IReadOnlyList<LoadNode> Nodes { get; }

    /// <summary>Control over the node processes, for targets the runner started; null for mounts it found.</summary>
    INodeControl? Control { get; }

    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Null while every node works; otherwise why the target cannot be used (a node died unexpectedly).</summary>
    string? Problem { get; }
}

/// <summary>What the runner can do to the dino-node processes it started.</summary>
public interface INodeControl
{
    Task<IReadOnlyList<PeerView>> PeersAsync(LoadNode node, CancellationToken cancellationToken);

    Task<JsonElement> StatusAsync(LoadNode node, CancellationToken cancellationToken);

    /// <summary>The node's PeerId (known once it is up).</summary>
    string? PeerIdOf(LoadNode node);

    bool IsRunning(LoadNode node);

    /// <summary>
    /// kill -9 (no goodbye to the cluster, as a crash), then lazily unmounts the orphaned mount as an operator
    /// would. The node counts as deliberately stopped, not as a problem.
    /// </summary>
    Task KillAsync(LoadNode node);

    /// <summary>
    /// SIGTERM (the node says goodbye and hands over the lease if it holds it), SIGKILL after the stop timeout, then
    /// unmounts whatever is left. The node counts as deliberately stopped.
    /// </summary>
    Task TerminateAsync(LoadNode node);
}
