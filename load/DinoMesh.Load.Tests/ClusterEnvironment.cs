using DinoMesh.Load.Cli;
using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Tests;

/// <summary>
/// What the cluster tests need: root, /dev/fuse, fusermount3, setsid/setpriv, and a built dino-node (Release, the
/// runner's default). Missing: the test skips with the reason, except under CI=true where that is a failure.
/// </summary>
internal static class ClusterEnvironment
{
    public static string DinoDll => RepositoryLayout.DefaultDinoDll(RepositoryLayout.FindRoot());

    public static void Require()
    {
        string? missing = !Posix.IsRoot ? "root"
            : !File.Exists("/dev/fuse") ? "/dev/fuse"
            : !ExternalProcess.IsOnPath("fusermount3") ? "fusermount3 (run scripts/install-deps.sh)"
            : !ExternalProcess.IsOnPath("setpriv") || !ExternalProcess.IsOnPath("setsid") ? "setpriv/setsid (util-linux)"
            : !File.Exists(DinoDll) ? $"{DinoDll} (build it: dotnet build -c Release src/DinoMesh.Node)"
            : null;
        if (missing is null) return;
        var reason = $"{missing} is not available";
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(reason);
        Assert.Skip(reason);
    }

    /// <summary>Every mount below <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> MountsUnder(string directory) =>
        MountTable.Read().Where(m => m.MountPoint.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal)).Select(m => m.MountPoint).ToList();

    /// <summary>Every process whose command line mentions <paramref name="text"/> (a unique temp path), other than us.</summary>
    public static IReadOnlyList<string> ProcessesMentioning(string text)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (!int.TryParse(name, out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(text, StringComparison.Ordinal)) found.Add($"{pid}: {cmdline.Trim()}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }
        return found;
    }

    /// <summary>Polls until nothing is mounted under and no process mentions <paramref name="directory"/>; the leftovers at the deadline.</summary>
    public static async Task<IReadOnlyList<string>> LeftoversAfterAsync(string directory, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = MountsUnder(directory).Select(m => $"mount {m}").Concat(ProcessesMentioning(directory).Select(p => $"process {p}")).ToList();
            if (left.Count == 0 || DateTime.UtcNow > deadline) return left;
            await Task.Delay(200, CancellationToken.None);
        }
    }
}
