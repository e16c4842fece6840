using DinoMesh.Node.Cli;

namespace DinoMesh.Node.Control;

/// <summary>
/// The line that adds another machine, ready to paste into a shell there. The credential rides in an environment
/// variable assignment, which the shell consumes: it never appears in the new node's argument list, so other users
/// cannot read it with <c>ps</c>.
/// </summary>
public static class JoinCommand
{
    public static string For(string seed, string token, string mountPoint) =>
        $"{Credential.EnvironmentVariable}={token} dino-node --join {seed} --mount {ShellWord(mountPoint)}";

    /// <summary>A path as one shell word: as it is when that is safe, single-quoted otherwise.</summary>
    public static string ShellWord(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+:@%,=".Contains(c, StringComparison.Ordinal))
            ? text
            : "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
