using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Lifecycle;

/// <summary>dino-node refuses to start with one actionable line on stderr and a non-zero exit code.</summary>
public sealed class DinoNode_StartupErrorTests : TrackedTargets
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Launches the daemon, expects it to exit non-zero, and returns its single stderr line.</summary>
    private static string AssertRefusesToStart(DinoNodeTarget target, params string[] extraArgs)
    {
        using var daemon = extraArgs.Length == 0 ? target.Launch() : target.Launch(extraArgs);
        var code = daemon.WaitForExit(ExitTimeout);
        Assert.True(code is not null, $"dino-node did not exit within {ExitTimeout.TotalSeconds:F0} s");
        Assert.NotEqual(0, code);
        var lines = daemon.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"expected exactly one line on stderr, got {lines.Length}:\n{daemon.Stderr}");
        return lines[0];
    }

    [Fact]
    public void Missing_mountpoint_is_named_in_one_line()
    {
        var scratch = Make(() => DinoNodeTarget.Create());
        var missing = Path.Combine(scratch.TempDir, "no-such-dir");
        var target = Make(() => DinoNodeTarget.Create(mountPoint: missing));
        Assert.Contains(missing, AssertRefusesToStart(target), StringComparison.Ordinal);
        Assert.False(Directory.Exists(missing), "dino-node created the missing mount point instead of refusing");
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("100001")]
    public void Busy_poll_out_of_range_is_refused_in_one_line(string microseconds)
    {
        var target = Make(() => DinoNodeTarget.Create());
        var line = AssertRefusesToStart(target, "--busy-poll", microseconds);
        Assert.Contains("--busy-poll", line, StringComparison.Ordinal);
        Assert.Contains(microseconds, line, StringComparison.Ordinal);
    }

    [Fact]
    public void Mountpoint_that_is_a_file_is_named_in_one_line()
    {
        var scratch = Make(() => DinoNodeTarget.Create());
        var file = Path.Combine(scratch.TempDir, "a-file");
        File.WriteAllText(file, "not a directory");
        var target = Make(() => DinoNodeTarget.Create(mountPoint: file));
        Assert.Contains(file, AssertRefusesToStart(target), StringComparison.Ordinal);
    }

    [Fact]
    public void Mountpoint_already_mounted_is_refused_and_the_first_daemon_keeps_working()
    {
        var first = Make(DinoNodeTarget.Mount);
        var second = Make(() => DinoNodeTarget.Create(mountPoint: first.MountPoint));
        Assert.Contains(first.MountPoint, AssertRefusesToStart(second), StringComparison.Ordinal);

        var probe = Path.Combine(first.MountPoint, "still-works");
        File.WriteAllText(probe, "yes");
        Assert.Equal("yes", File.ReadAllText(probe));
        Assert.True(first.DaemonPid is not null, "the first daemon died");
    }

    [Fact]
    public void Data_dir_in_use_by_another_daemon_is_refused()
    {
        var first = Make(DinoNodeTarget.Mount);
        var second = Make(() => DinoNodeTarget.Create(dataDir: first.DataDir));
        Assert.Contains("in use", AssertRefusesToStart(second), StringComparison.OrdinalIgnoreCase);
        Assert.False(MountTable.IsFuseMounted(second.MountPoint), "the refused daemon left a mount behind");
        Assert.True(first.DaemonPid is not null, "the first daemon died");
    }

    [Fact]
    public void Data_dir_on_a_read_only_filesystem_is_refused_as_not_writable()
    {
        var scratch = Make(() => DinoNodeTarget.Create());
        var readOnly = Path.Combine(scratch.TempDir, "ro");
        Directory.CreateDirectory(readOnly);
        // Root ignores mode bits, so only a read-only mount makes a directory unwritable for it.
        Tool.Run("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", readOnly);
        try
        {
            var target = Make(() => DinoNodeTarget.Create(dataDir: Path.Combine(readOnly, "data")));
            var line = AssertRefusesToStart(target);
            Assert.Contains(readOnly, line, StringComparison.Ordinal);
            Assert.False(MountTable.IsFuseMounted(target.MountPoint), "the refused daemon left a mount behind");
        }
        finally
        {
            Tool.TryRun("umount", "-l", readOnly);
        }
    }
}
