namespace DinoMesh.Fuse.Tests.Support;

/// <summary>Skips mount tests where FUSE cannot work, except under CI=true, where a missing prerequisite fails the test.</summary>
internal static class FuseTestEnvironment
{
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static void RequireMountable()
    {
        string? reason = null;
        if (!OperatingSystem.IsLinux())
            reason = "FUSE mount tests need Linux";
        else if (!File.Exists("/dev/fuse"))
            reason = "/dev/fuse is missing (no fuse module or not passed into the container)";
        else if (Environment.UserName != "root")
            reason = "FUSE mount tests mount with mount(2) and need root";
        if (reason is null)
            return;
        if (IsCi)
            Assert.Fail($"CI=true and {reason}");
        Assert.Skip(reason);
    }

    public static void RequireProgram(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
        {
            if (File.Exists(Path.Combine(dir, name)))
                return;
        }
        string reason = $"{name} is not installed (scripts/install-deps.sh installs it)";
        if (IsCi)
            Assert.Fail($"CI=true and {reason}");
        Assert.Skip(reason);
    }
}
