using System.Reflection;

namespace DinoMesh.TestSupport;

/// <summary>
/// Where the daemon under test is: the dino-node built by the solution with the configuration the tests were built with
/// (this library is built with its callers' configuration).
/// </summary>
public static class SourceTree
{
    /// <summary>src/DinoMesh.Node/bin/&lt;Configuration&gt;/net10.0/dino-node.dll; throws with instructions when it is not built.</summary>
    public static string DaemonDll
    {
        get
        {
            var configuration = typeof(SourceTree).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var dll = Path.Combine(RepoRoot, "src", "DinoMesh.Node", "bin", configuration, "net10.0", "dino-node.dll");
            return File.Exists(dll)
                ? dll
                : throw new FileNotFoundException(
                    $"dino-node is not built: {dll} does not exist. Build it first: dotnet build {Path.Combine(RepoRoot, "src", "DinoMesh.Node")} -c {configuration}");
        }
    }

    /// <summary>The repository's root (where DinoMesh.sln and scripts/ are).</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "DinoMesh.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new InvalidOperationException($"no DinoMesh.sln above {AppContext.BaseDirectory}");
        }
    }
}
