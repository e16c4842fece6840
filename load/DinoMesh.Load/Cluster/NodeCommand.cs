namespace DinoMesh.Load.Cluster;

/// <summary>
/// How to run the dino-node given to the runner: a <c>dino-node.dll</c> (the build) under <c>dotnet</c>; anything
/// else (the Native AOT executable <c>scripts/install.sh</c> installs, an apphost) as it is.
/// </summary>
public static class NodeCommand
{
    public static (string FileName, string[] Prefix) For(string node) =>
        node.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? ("dotnet", [node]) : (node, []);
}
