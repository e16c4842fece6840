namespace DinoMesh.Load.Targets;

/// <summary>
/// bindfs mirroring a local directory through FUSE. It does no work of its own beyond forwarding each call to the
/// disk, so native-vs-bindfs is the cost of FUSE itself and bindfs is the baseline a FUSE file system is judged by.
/// Run with -f (foreground) so the benchmark owns the process and no daemon outlives it.
/// </summary>
public sealed class BindfsTarget(string source, string mountPoint, TargetTimeouts timeouts, string? logPath)
    : FuseDaemonTarget(mountPoint, timeouts, logPath)
{
    public override string Name => "bindfs";

    public override string Description => $"bindfs -f {source} {Root} (FUSE passthrough, default options)";

    protected override bool SignalFirst => false;

    protected override string FileName => "bindfs";

    protected override IEnumerable<string> Arguments => ["-f", source, Root];

    protected override void Prepare() => Directory.CreateDirectory(source);
}
