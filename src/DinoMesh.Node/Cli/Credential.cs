using DinoMesh.Transport.Identity;

namespace DinoMesh.Node.Cli;

/// <summary>
/// Where the join credential comes from: <c>DINOMESH_TOKEN</c> or <c>--token-file</c> (neither shows in <c>ps</c>), or
/// <c>--token</c> (which does, so it draws a warning). Everything is checked before the node touches anything.
/// </summary>
public static class Credential
{
    public const string EnvironmentVariable = "DINOMESH_TOKEN";

    private const UnixFileMode OthersMayTouch =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>The credential text, or null when none was given; <paramref name="warn"/> gets a line for a risky source.</summary>
    public static string? Resolve(string? token, string? tokenFile, Action<string> warn)
    {
        string? text;
        if (!string.IsNullOrWhiteSpace(token))
        {
            warn("--token puts the join secret where every local user can read it (ps, /proc); prefer DINOMESH_TOKEN or --token-file");
            text = token.Trim();
        }
        else if (tokenFile is not null)
        {
            text = ReadPrivateFile(tokenFile);
        }
        else
        {
            var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
            text = string.IsNullOrWhiteSpace(fromEnvironment) ? null : fromEnvironment.Trim();
        }
        if (text is not null && !JoinToken.TryParse(text, out _))
        {
            throw new UsageException("the join credential is malformed (expected dmt1.<cluster>.<secret>, as printed by `dino-node token`)");
        }
        return text;
    }

    /// <summary>Reads a token file, refusing one that anybody but its owner may read or change (as ssh does with keys).</summary>
    public static string ReadPrivateFile(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new UsageException($"--token-file {full} does not exist");
        var mode = File.GetUnixFileMode(full);
        if ((mode & OthersMayTouch) != 0)
        {
            throw new UsageException($"--token-file {full} is accessible to other users (mode {Octal(mode)}); make it private: chmod 600 {full}");
        }
        try
        {
            return File.ReadAllText(full).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read --token-file {full}: {e.Message}");
        }
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8);
}
