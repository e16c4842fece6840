namespace DinoMesh.Integration.Tests.Targets;

/// <summary>A plain directory on the local disk: the reference every other target is compared with.</summary>
public sealed class NativeTarget : FileSystemTarget
{
    private readonly string _root;

    public NativeTarget()
    {
        if (!Support.Requirement.IsRoot)
        {
            throw new TargetUnavailableException("the suite needs root (chown, setgid, setpriv to uid 65534)");
        }
        _root = MakeTempRoot("dinomesh-native-");
    }

    public override string Name => "native";

    public override string Root => _root;

    public override void Dispose() => DeleteTree(_root);
}
