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

    /// <summary>
    /// The variable that names a native (Native AOT) dino-node executable to run instead of <c>dotnet dino-node.dll</c>:
    /// scripts/test.sh publishes one as scripts/install.sh does and sets it, because a JIT'd node spends seconds of a
    /// loaded 2-core machine compiling itself at every start and every CLI call (status, peers) a test polls with,
    /// and the executable is what users install. Unset (a plain <c>dotnet test</c>): the built dll.
    /// </summary>
    public const string NativeNodeVariable = "DINOMESH_TEST_NODE";

    /// <summary>
    /// How to run dino-node: the program and the arguments that come before dino-node's own (<c>dotnet</c> and the
    /// dll, or the native executable <see cref="NativeNodeVariable"/> names and none); throws when that variable
    /// names a file that is not there (a stale setting must not quietly test the other build).
    /// </summary>
    public static (string File, string[] Prefix) DaemonCommand
    {
        get
        {
            if (Environment.GetEnvironmentVariable(NativeNodeVariable) is { Length: > 0 } native)
            {
                return File.Exists(native)
                    ? (native, [])
                    : throw new FileNotFoundException($"{NativeNodeVariable}={native}: no such file; unset it to run the built dino-node.dll");
            }
            return ("dotnet", [DaemonDll]);
        }
    }

    /// <summary><see cref="DaemonCommand"/> as the words a shell line starts with (paths here have no spaces).</summary>
    public static string DaemonShellCommand => string.Join(' ', [DaemonCommand.File, .. DaemonCommand.Prefix]);

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
