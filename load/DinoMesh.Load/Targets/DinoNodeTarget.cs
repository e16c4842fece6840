using DinoMesh.Load.Cluster;

namespace DinoMesh.Load.Targets;

/// <summary>
/// A single dino-node serving a fresh data directory: `dotnet dino-node.dll --mount M --data-dir D`. The daemon is
/// expected to unmount and exit on SIGTERM; it is killed if it does not within the stop timeout.
/// </summary>
public sealed class DinoNodeTarget(string dll, string mountPoint, string dataDir, TargetTimeouts timeouts, string? logPath, IReadOnlyList<string>? extraArgs = null)
    : FuseDaemonTarget(mountPoint, timeouts, logPath)
{
    public override string Name => "dino";

    public override string Description => $"{string.Join(' ', [NodeCommand.For(dll).FileName, .. NodeCommand.For(dll).Prefix])} --mount {Root} --data-dir {dataDir}{(extraArgs is { Count: > 0 } ? " " + string.Join(' ', extraArgs) : "")}";

    protected override bool SignalFirst => true;

    protected override string FileName => NodeCommand.For(dll).FileName;

    protected override IEnumerable<string> Arguments => [.. NodeCommand.For(dll).Prefix, "--mount", Root, "--data-dir", dataDir, "--listen", "127.0.0.1:0", .. extraArgs ?? []];

    protected override void Prepare() => Directory.CreateDirectory(dataDir);
}
