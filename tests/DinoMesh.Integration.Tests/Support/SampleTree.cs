namespace DinoMesh.Integration.Tests.Support;

/// <summary>
/// A real tree from this machine to copy and untar: the .NET SDK's <c>Sdks</c> folder (about two
/// thousand files, tens of MB: MSBuild targets, dlls, symlink-free), or /usr/share/doc without it.
/// </summary>
public static class SampleTree
{
    public static string Locate()
    {
        // .../dotnet/shared/Microsoft.NETCore.App/<version>/System.Private.CoreLib.dll -> .../dotnet
        var dotnetRoot = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        var sdks = Directory.Exists(Path.Combine(dotnetRoot, "sdk"))
            ? Directory.EnumerateDirectories(Path.Combine(dotnetRoot, "sdk"))
                .Select(d => Path.Combine(d, "Sdks"))
                .Where(Directory.Exists)
                .Order(StringComparer.Ordinal)
                .LastOrDefault()
            : null;
        return sdks ?? (Directory.Exists("/usr/share/doc") ? "/usr/share/doc"
            : throw new InvalidOperationException($"no source tree found (no {dotnetRoot}/sdk/*/Sdks, no /usr/share/doc)"));
    }

    /// <summary>Writes a tarball of the tree into <paramref name="dir"/> (on the local disk) and returns its path.</summary>
    public static string CreateTarball(string source, string dir)
    {
        var tarball = Path.Combine(dir, "tree.tar");
        Tool.Run("tar", ["-cf", tarball, "-C", Path.GetDirectoryName(source)!, Path.GetFileName(source)], TimeSpan.FromSeconds(120));
        return tarball;
    }
}
