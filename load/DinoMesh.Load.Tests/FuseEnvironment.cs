using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Tests;

/// <summary>Skips a test that needs FUSE and bindfs when they are missing, except under CI=true where that is a failure.</summary>
internal static class FuseEnvironment
{
    public static void Require()
    {
        string? missing = !File.Exists("/dev/fuse") ? "/dev/fuse"
            : !ExternalProcess.IsOnPath("bindfs") ? "bindfs"
            : !ExternalProcess.IsOnPath("fusermount3") ? "fusermount3"
            : null;
        if (missing is null) return;
        var reason = $"{missing} is not available (run scripts/install-deps.sh)";
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(reason);
        Assert.Skip(reason);
    }
}
