using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Tests;

/// <summary>
/// dino-load against throwaway clusters of real dino-node processes, run as a process: the issue's "done" command,
/// and teardown when the run ends normally, on Ctrl+C, when a node dies mid-run, and when the runner itself is
/// killed with SIGKILL. Each test gives the runner its own work directory and checks, with a bounded poll, that no
/// mount and no process mentioning it is left and that the cluster's directory is gone.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class ClusterRunTests : IDisposable
{
    private const int SigInt = 2;
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dino-load-run-");

    private string Work => Directory.CreateDirectory(Path.Combine(_temp.FullName, "work")).FullName;

    private string Out => Path.Combine(_temp.FullName, "results");

    private string Log => Path.Combine(_temp.FullName, "runner.log");

    [Fact]
    public async Task Small_files_on_three_nodes_for_20_s_exits_0_prints_p99_writes_the_reports_and_leaves_nothing()
    {
        ClusterEnvironment.Require();
        var work = Work;
        await using var runner = RunnerProcess.Start(Log, "small-files", "--nodes", "3", "--duration", "20s", "--work-dir", work, "--out", Out, "--no-live");

        var exit = await runner.WaitForExitAsync(TimeSpan.FromMinutes(5));

        var output = runner.Output;
        Assert.True(exit == 0, $"exit {exit}:\n{output}");
        Assert.Contains("cluster formed: 3 nodes list each other alive", output, StringComparison.Ordinal);
        Assert.Matches(@"step\s+count\s+ok\s+errors\s+ops/s\s+MB/s\s+p50 us\s+p90 us\s+p99 us\s+max us", output);
        foreach (var step in new[] { "create 4 KiB", "read", "delete" })
        {
            // A row per step: its count and a p99 figure, no errors.
            Assert.Matches($@"small-files\s+dino\s+{step}\s+[\d,]+\s+[\d,]+\s+0\s+[\d,.]+\s+\S+\s+[\d,.]+\s+[\d,.]+\s+[\d,.]+\s+[\d,.]+", output);
        }
        var md = Directory.GetFiles(Out, "load-*.md").Single();
        var html = Directory.GetFiles(Out, "load-*.html").Single();
        Assert.Contains("small-files on dino: measured", await File.ReadAllTextAsync(md, TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Contains("<svg", await File.ReadAllTextAsync(html, TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(3, Directory.GetFiles(Directory.GetDirectories(Out, "load-*-nodes").Single(), "node*.log").Length);
        await AssertNothingLeftAsync(work);
    }

    [Fact]
    public async Task Ctrl_C_mid_run_stops_the_cluster_in_order_and_exits_130_leaving_nothing()
    {
        ClusterEnvironment.Require();
        var work = Work;
        await using var runner = RunnerProcess.Start(Log, "small-files", "--nodes", "2", "--duration", "5m", "--warm-up", "0s", "--work-dir", work, "--out", Out, "--no-live");
        await runner.WaitForOutputAsync("small-files on dino: keep", TimeSpan.FromMinutes(3));
        Assert.Equal(2, ClusterEnvironment.MountsUnder(work).Count);

        runner.Signal(SigInt);
        var exit = await runner.WaitForExitAsync(TimeSpan.FromMinutes(2));

        Assert.True(exit == 130, $"exit {exit}:\n{runner.Output}");
        Assert.Contains("cancelled", runner.Output, StringComparison.Ordinal);
        Assert.Contains("exited with 0 after SIGTERM", await File.ReadAllTextAsync(Directory.GetFiles(Out, "load-*.json").Single(), TestContext.Current.CancellationToken),
            StringComparison.Ordinal);
        await AssertNothingLeftAsync(work);
    }

    [Fact]
    public async Task A_node_dying_mid_run_fails_the_scenario_at_once_and_the_rest_is_torn_down()
    {
        ClusterEnvironment.Require();
        var work = Work;
        await using var runner = RunnerProcess.Start(Log, "small-files", "--nodes", "2", "--duration", "5m", "--warm-up", "0s", "--work-dir", work, "--out", Out, "--no-live");
        await runner.WaitForOutputAsync("small-files measuring started", TimeSpan.FromMinutes(3));
        await Task.Delay(1000, TestContext.Current.CancellationToken);
        var node2 = ClusterEnvironment.ProcessesMentioning(Path.Combine("node2", "data")).Where(p => p.Contains(work, StringComparison.Ordinal) && p.Contains("dino-node.dll --mount", StringComparison.Ordinal)).ToList();
        var pid = int.Parse(Assert.Single(node2).Split(':')[0], System.Globalization.CultureInfo.InvariantCulture);

        Signals.Send(pid, Signals.SigKill);
        var exit = await runner.WaitForExitAsync(TimeSpan.FromMinutes(2));

        Assert.True(exit == 1, $"exit {exit}:\n{runner.Output}");
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(runner.Output, "small-files on dino: failed: node2 exited with 137 unexpectedly"), runner.Output);
        await AssertNothingLeftAsync(work);
    }

    [Fact]
    public async Task Killing_the_runner_with_SIGKILL_leaves_no_mount_no_process_and_no_directory()
    {
        ClusterEnvironment.Require();
        var work = Work;
        await using var runner = RunnerProcess.Start(Log, "small-files", "--nodes", "2", "--duration", "5m", "--warm-up", "0s", "--work-dir", work, "--out", Out, "--no-live");
        await runner.WaitForOutputAsync("small-files on dino: keep", TimeSpan.FromMinutes(3));
        Assert.Equal(2, ClusterEnvironment.MountsUnder(work).Count);
        Assert.Equal(2, ClusterEnvironment.ProcessesMentioning(work).Count(p => p.Contains("dino-node.dll --mount", StringComparison.Ordinal)));

        runner.Signal(Signals.SigKill);
        await runner.WaitForExitAsync(TimeSpan.FromSeconds(30));

        // No teardown code of the runner ran: the parent-death signal and the watchdog did it.
        await AssertNothingLeftAsync(work);
    }

    private static async Task AssertNothingLeftAsync(string work)
    {
        var left = await ClusterEnvironment.LeftoversAfterAsync(work, TimeSpan.FromSeconds(30));
        Assert.True(left.Count == 0, "left behind:\n" + string.Join('\n', left));
        Assert.Empty(Directory.GetFileSystemEntries(work));
    }

    public void Dispose()
    {
        foreach (var line in ClusterEnvironment.ProcessesMentioning(_temp.FullName))
        {
            Signals.Send(int.Parse(line.Split(':')[0], System.Globalization.CultureInfo.InvariantCulture), Signals.SigKill);
        }
        foreach (var mount in ClusterEnvironment.MountsUnder(_temp.FullName)) Unmount.RunAsync(mount).GetAwaiter().GetResult();
        _temp.Delete(recursive: true);
    }
}
