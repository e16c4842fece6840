using DinoMesh.TestSupport;

namespace DinoMesh.Fuse.Tests.Support;

/// <summary>Skips mount tests where FUSE cannot work, except under CI=true, where a missing prerequisite fails the test.</summary>
internal static class FuseTestEnvironment
{
    public static void RequireMountable()
    {
        if (!OperatingSystem.IsLinux())
            Requirement.Unavailable("FUSE mount tests need Linux");
        else if (!File.Exists("/dev/fuse"))
            Requirement.Unavailable("/dev/fuse is missing (no fuse module or not passed into the container)");
        else if (!Requirement.IsRoot)
            Requirement.Unavailable("FUSE mount tests mount with mount(2) and need root");
    }

    public static void RequireProgram(string name)
    {
        if (Requirement.Which(name) is null)
            Requirement.Unavailable($"{name} is not installed (scripts/install-deps.sh installs it)");
    }
}
