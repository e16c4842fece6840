namespace DinoMesh.Node.Tests.Support;

/// <summary>Runs the dino-node executable to completion (a command, or a start that is expected to fail).</summary>
public static class DinoNodeCli
{
    /// <summary><c>dino-node ARGS</c> (<see cref="SourceTree.DaemonCommand"/>) with DINOMESH_TOKEN removed unless <paramref name="env"/> sets it.</summary>
    public static ToolResult Run(IEnumerable<string> args, IReadOnlyDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        var environment = new Dictionary<string, string> { ["DINOMESH_TOKEN"] = "" };
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            environment[k] = v;
        }
        var (program, before) = SourceTree.DaemonCommand;
        return Tool.TryRun(program, [.. before, .. args], timeout ?? TimeSpan.FromSeconds(90), env: environment);
    }

    public static ToolResult Run(params string[] args) => Run(args, null);

    /// <summary>The non-empty lines of stderr.</summary>
    public static string[] ErrorLines(this ToolResult result) =>
        result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
