namespace DinoMesh.Integration.Tests.Support;

/// <summary>
/// Runs a command as the unprivileged user 65534 (nobody/nogroup) with no supplementary groups, to
/// check that modes, ownership and ACLs are enforced. The tools' messages are mapped back to errnos
/// through the C locale's strerror texts.
/// </summary>
public static class Nobody
{
    public const uint Uid = 65534;
    public const uint Gid = 65534;

    public static ToolResult Run(string file, params string[] args) =>
        Tool.TryRun("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", file, .. args],
            TimeSpan.FromSeconds(30));

    /// <summary>Asserts the command failed with exactly this errno (by its strerror text).</summary>
    public static void AssertFailedWith(ToolResult r, params Errno[] allowed)
    {
        Assert.True(r.ExitCode != 0, $"expected {string.Join(" or ", allowed)} as uid 65534, but it succeeded: {r}");
        Assert.True(allowed.Any(e => r.Stderr.Contains(Message(e), StringComparison.Ordinal)),
            $"expected {string.Join(" or ", allowed)} as uid 65534: {r}");
    }

    public static void AssertSucceeded(ToolResult r) =>
        Assert.True(r.ExitCode == 0, $"expected success as uid 65534: {r}");

    private static string Message(Errno e) => e switch
    {
        Errno.EACCES => "Permission denied",
        Errno.EPERM => "Operation not permitted",
        Errno.ENOENT => "No such file or directory",
        Errno.EEXIST => "File exists",
        _ => throw new ArgumentOutOfRangeException(nameof(e), e, "no strerror text mapped"),
    };
}
