namespace DinoMesh.Load.Cli;

/// <summary>Finds the repository root (the directory holding DinoMesh.sln) to locate dino-node.dll and load/results.</summary>
public static class RepositoryLayout
{
    public static string? FindRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "DinoMesh.sln"))) return dir.FullName;
            }
        }
        return null;
    }

    public static string DefaultDinoDll(string? root) =>
        Path.Combine(root ?? ".", "src", "DinoMesh.Node", "bin", "Release", "net10.0", "dino-node.dll");

    public static string DefaultOutput(string? root) =>
        root is null ? Path.GetFullPath("load-results") : Path.Combine(root, "load", "results");
}
