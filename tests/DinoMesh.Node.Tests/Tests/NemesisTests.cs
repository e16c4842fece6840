using DinoMesh.Node.Tests.Cluster;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// <c>load/nemesis.py</c> on three fixed seeds (one with appends from every node at once): three real nodes in network namespaces, a client on each mount, a
/// seeded schedule of cuts, splits, kill -9 and SIGSTOP, then the strict check of what was acknowledged (every
/// acknowledged create and append there exactly once, renames and unlinks applied, one tree and one state hash on every
/// mount). And the check itself, shown to fail: the same run with an acknowledged append line written a second time by
/// hand after convergence must be reported as a violation.
/// </summary>
public sealed class NemesisTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(150);
    private readonly ITestOutputHelper _output;

    public NemesisTests(ITestOutputHelper output)
    {
        _output = output;
        Requirement.RootAndFuse();
        if (Requirement.Which("python3") is null) Requirement.Unavailable("python3 is not installed");
        if (NetworkLab.WhyUnavailable() is { } reason) Requirement.Unavailable(reason);
    }

    [Fact]
    public void Two_seeds_of_faults_keep_every_acknowledged_create_and_append_and_end_in_one_tree()
    {
        var run = Nemesis("--seeds", "3,4", "--faults", "5", "--ops", "120", "--converge", "40");
        Assert.True(run.ExitCode == 0, $"nemesis exit {run.ExitCode}:\n{run.Stdout}\n{run.Stderr}");
        Assert.Equal(2, run.Stdout.Split('\n').Count(l => l.StartsWith("seed ", StringComparison.Ordinal) && l.Contains(": ok;", StringComparison.Ordinal)));
    }

    /// <summary>
    /// Every client appends on the same 50 ms tick, so appends from three nodes meet at one end of the file, under a
    /// holder isolated and killed: each acknowledged line is there once and whole. Main's node before
    /// <c>WriteExtents.AppendedAt</c> failed this seed with 84 violations (lines laid over each other).
    /// </summary>
    [Fact]
    public void A_seed_of_faults_with_appends_from_every_node_at_once_keeps_every_acknowledged_line_once()
    {
        var run = Nemesis("--seed", "4", "--appends", "concurrent", "--faults", "5", "--ops", "120", "--converge", "40");
        Assert.True(run.ExitCode == 0, $"nemesis exit {run.ExitCode}:\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("seed 4: ok;", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_check_reports_an_append_line_written_twice()
    {
        var run = Nemesis("--seed", "5", "--faults", "1", "--ops", "40", "--converge", "40", "--sabotage", "duplicate-append");
        Assert.True(run.ExitCode == 1, $"nemesis exit {run.ExitCode} (1 expected: a violation):\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("is in shared.log 2 times", run.Stdout, StringComparison.Ordinal);
    }

    private ToolResult Nemesis(params string[] args)
    {
        var out_ = Path.Combine(Path.GetTempPath(), $"nemesis-out-{Guid.NewGuid():N}");
        try
        {
            var script = Path.Combine(SourceTree.RepoRoot, "load", "nemesis.py");
            var run = Tool.TryRun("python3", [script, "--node", SourceTree.DaemonShellCommand, "--out", out_, .. args], Limit);
            _output.WriteLine(run.Stdout);
            _output.WriteLine(run.Stderr);
            return run;
        }
        finally
        {
            if (Directory.Exists(out_)) Directory.Delete(out_, recursive: true);
        }
    }
}
