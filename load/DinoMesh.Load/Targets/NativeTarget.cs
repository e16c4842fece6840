namespace DinoMesh.Load.Targets;

/// <summary>A plain directory on the local disk: the upper bound every FUSE target is compared with.</summary>
public sealed class NativeTarget(string directory) : BenchTarget
{
    public override string Name => "native";

    public override string Root => directory;

    public override string Description => $"plain directory {directory}";

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        return Task.CompletedTask;
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
