namespace DinoMesh.Integration.Tests.Targets;

/// <summary>A plain directory on the local disk: the reference every other target is compared with.</summary>
public sealed class NativeTarget : FileSystemTarget
{
    private readonly string _root;

    public NativeTarget()
    {
        if (!TestSupport.Requirement.IsRoot)
        {
            throw new TargetUnavailableException("the suite needs root (chown, setgid, setpriv to uid 65534)");
        }
        _root = MakeTempRoot("dinomesh-native-");
    }

    public override string Name => "native";

    public override string Root => _root;

    public override string? Lacks(Feature feature) => feature switch
    {
        // ext4 (and xfs) allocate block groups until the disk is full and only then answer ENOSPC; the suite
        // must not fill a disk that other work shares. tmpfs refuses at once, so a tmpfs root runs the test.
        Feature.FallocateBeyondFreeSpace when !IsTmpfs(_root) =>
            "the native root is not tmpfs, and fallocate past the free space on a block filesystem fills the disk before it fails",
        _ => base.Lacks(feature),
    };

    private static bool IsTmpfs(string path) => TestSupport.Tool.TryRun("stat", ["-f", "-c", "%T", path], TimeSpan.FromSeconds(10)).Stdout.Trim() == "tmpfs";

    public override void Dispose() => DeleteTree(_root);
}
