namespace DinoMesh.Node;

/// <summary>What `dino-node --mount ...` was asked to do.</summary>
public sealed record NodeOptions
{
    public required string MountPoint { get; init; }
    public required string DataDirectory { get; init; }
    public bool AllowOther { get; init; } = true;
}
