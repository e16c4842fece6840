using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// The repository's own scripts: <c>.ci/run</c> sets CI=true itself; <c>scripts/test.sh</c>'s check for mounts left
/// behind looks only under the suite's TMPDIR (<c>scripts/lib/fuse-mounts-under.sh</c>), not at every FUSE mount.
/// </summary>
public sealed class ScriptTests : IDisposable
{
    private readonly TestCluster _cluster;

    public ScriptTests(ITestOutputHelper output) => _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.49"]);

    [Fact]
    public void Ci_run_exports_CI_true_before_running_the_test_command()
    {
        // The real .ci/run in a scratch tree whose scripts/test.sh only reports what it was given.
        var tree = Directory.CreateDirectory(Path.Combine(_cluster.Root, "tree")).FullName;
        Directory.CreateDirectory(Path.Combine(tree, ".ci"));
        Directory.CreateDirectory(Path.Combine(tree, "scripts"));
        File.Copy(Path.Combine(SourceTree.RepoRoot, ".ci", "run"), Path.Combine(tree, ".ci", "run"));
        File.WriteAllText(Path.Combine(tree, "scripts", "test.sh"), "echo \"CI=${CI:-unset}\"\n");
        var r = Tool.TryRun("env", ["-u", "CI", "bash", Path.Combine(tree, ".ci", "run")], TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("CI=true", r.Stdout.Trim());
    }

    [Fact]
    public void The_left_behind_check_reports_mounts_under_the_suites_directory_only()
    {
        Requirement.RootAndFuse();
        var script = Path.Combine(SourceTree.RepoRoot, "scripts", "lib", "fuse-mounts-under.sh");
        var node = _cluster.Add("mounted", "127.0.0.49");
        node.Start();
        var suite = Path.Combine(_cluster.Root, "mounted");   // the node's mount point is under it
        var other = Directory.CreateDirectory(Path.Combine(_cluster.Root, "elsewhere")).FullName;

        var inside = Tool.Run("bash", script, suite).Stdout.Trim();
        Assert.Equal($"fuse.dinomesh {node.MountPoint}", inside);
        Assert.Equal("", Tool.Run("bash", script, other).Stdout.Trim());
        // A sibling whose name merely starts the same is not "under" it.
        Assert.Equal("", Tool.Run("bash", script, Path.Combine(_cluster.Root, "mount")).Stdout.Trim());
    }

    public void Dispose() => _cluster.Dispose();
}
