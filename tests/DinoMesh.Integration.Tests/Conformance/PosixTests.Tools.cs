using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

public abstract partial class PosixTests
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public void Untar_of_a_real_tree_matches_the_original()
    {
        var source = SampleTree.Locate();
        var scratch = Directory.CreateTempSubdirectory("dinomesh-tar-").FullName;
        try
        {
            var tarball = SampleTree.CreateTarball(source, scratch);
            Tool.Run("tar", ["-xf", tarball, "-C", Dir], ToolTimeout);
            var diff = Tool.TryRun("diff", ["-r", "--no-dereference", source, P(Path.GetFileName(source))], ToolTimeout);
            Assert.True(diff.ExitCode == 0, $"the untarred tree differs from {source}: {diff}");
            // tar sets mtime with atime UTIME_OMIT; the same check without times is the diff above.
            Needs(Feature.UtimeOmit);
            // tar itself can verify what it wrote: contents, modes, times, links.
            var compare = Tool.TryRun("tar", ["--compare", "-f", tarball, "-C", Dir], ToolTimeout);
            Assert.True(compare.ExitCode == 0, $"tar --compare found differences: {compare}");
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [Fact]
    public void Cp_a_copies_a_tree_with_modes_owners_and_times()
    {
        var source = SampleTree.Locate();
        var copy = P("copy");
        Tool.Run("cp", ["-a", source, copy], ToolTimeout);
        var diff = Tool.TryRun("diff", ["-r", "--no-dereference", source, copy], ToolTimeout);
        Assert.True(diff.ExitCode == 0, $"the copy differs from {source}: {diff}");

        var checkedEntries = 0;
        foreach (var original in Directory.EnumerateFileSystemEntries(source, "*", SearchOption.AllDirectories).Prepend(source))
        {
            var copied = Path.Combine(copy, Path.GetRelativePath(source, original));
            var a = Posix.Lstat(original);
            var b = Posix.Lstat(copied);
            var what = Path.GetRelativePath(source, original);
            Assert.Equal((a.Mode, a.Uid, a.Gid), (b.Mode, b.Uid, b.Gid));
            Assert.True(a.IsDirectory || a.Size == b.Size, $"{what}: size {b.Size} != {a.Size}");
            Assert.True(a.Mtime == b.Mtime, $"{what}: mtime {b.Mtime} != {a.Mtime} (cp -a keeps nanoseconds)");
            checkedEntries++;
        }
        Assert.True(checkedEntries > 100, $"only {checkedEntries} entries in {source}");
    }

    [Fact]
    public void Git_init_add_commit_status_log_and_gc_work()
    {
        var repo = P("repo");
        Directory.CreateDirectory(repo);
        for (var i = 0; i < 60; i++)
        {
            var dir = Path.Combine(repo, $"pkg{i % 6}");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, $"file{i}.txt"), string.Concat(Enumerable.Repeat($"line {i}\n", 50 + i)));
        }
        var env = new Dictionary<string, string>
        {
            ["HOME"] = Dir,
            ["GIT_CONFIG_NOSYSTEM"] = "1",
            ["GIT_AUTHOR_NAME"] = "Dino Tester",
            ["GIT_AUTHOR_EMAIL"] = "dino@example.invalid",
            ["GIT_COMMITTER_NAME"] = "Dino Tester",
            ["GIT_COMMITTER_EMAIL"] = "dino@example.invalid",
        };
        ToolResult Git(params string[] args) => Tool.Run("git", args, ToolTimeout, repo, env);

        Git("init", "-q", "-b", "main");
        Git("add", "-A");
        Git("commit", "-q", "-m", "first commit");
        Assert.Equal("", Git("status", "--porcelain").Stdout);

        // A second commit with an edit, a rename and a delete.
        File.AppendAllText(Path.Combine(repo, "pkg0", "file0.txt"), "changed\n");
        Git("mv", "pkg1/file1.txt", "pkg1/renamed.txt");
        Git("rm", "-q", "pkg2/file2.txt");
        Git("commit", "-q", "-am", "second commit");
        Assert.Equal("", Git("status", "--porcelain").Stdout);

        var log = Git("log", "--format=%s").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["second commit", "first commit"], log);

        Git("gc", "-q");
        Git("fsck", "--full", "--strict");
        Assert.Equal("", Git("status", "--porcelain").Stdout);
        Assert.Equal("2", Git("rev-list", "--count", "HEAD").Stdout.Trim());
        Assert.Contains("changed", File.ReadAllText(Path.Combine(repo, "pkg0", "file0.txt")), StringComparison.Ordinal);
    }
}
