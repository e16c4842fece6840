namespace DinoMesh.TestSupport;

/// <summary>What to do when the machine cannot provide what a test needs (FUSE, bindfs, root, network namespaces).</summary>
public static class Requirement
{
    /// <summary>True when running in CI, where a missing set-up is a failure, not a skip.</summary>
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Skips the test with the reason, or fails it when CI=true.</summary>
    public static void Unavailable(string reason)
    {
        if (InCi)
        {
            Assert.Fail($"CI=true and the test environment is incomplete: {reason}");
        }
        Assert.Skip(reason);
    }

    /// <summary>Every cluster test mounts FUSE and binds 127.0.0.11-13: it needs root and /dev/fuse.</summary>
    public static void RootAndFuse()
    {
        if (!IsRoot)
        {
            Unavailable("cluster tests mount FUSE file systems and need root");
        }
        if (!File.Exists("/dev/fuse"))
        {
            Unavailable("/dev/fuse is missing");
        }
    }

    public static bool IsRoot => Environment.UserName == "root" || GetEuid() == 0;

    private static uint GetEuid() => uint.TryParse(
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))
            ?.Split('\t', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(2), out var u) ? u : uint.MaxValue;

    /// <summary>The process umask, read without changing it (umask(2) would race with parallel tests).</summary>
    public static uint Umask() => Convert.ToUInt32(
        File.ReadLines("/proc/self/status").First(l => l.StartsWith("Umask:", StringComparison.Ordinal))["Umask:".Length..].Trim(), 8);

    /// <summary>The full path of a program on PATH, or null.</summary>
    public static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, program))
            .FirstOrDefault(File.Exists);
}
