using DinoMesh.Load.Cli;
using DinoMesh.Load.Cluster;
using DinoMesh.Load.Reporting;
using DinoMesh.Load.Scenarios;

namespace DinoMesh.Load.Tests;

/// <summary>
/// The cluster scenarios end to end through <see cref="LoadSuite"/> on plain directories given as existing mounts.
/// One directory given twice behaves as two nodes sharing one tree (what the shared tree will give), two directories
/// as two nodes with their own volumes (what dino-node gives today).
/// </summary>
public sealed class ClusterScenarioTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dino-load-scenarios-");

    private LoadOptions Options(IReadOnlyList<string> mounts, IReadOnlyList<ClusterScenario>? scenarios = null) => new(
        scenarios ?? ClusterScenarios.All, 0, mounts, LoadSpec.Default, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(200), 1_000_000,
        new ClusterWorkload(4096, 8L << 20, 1 << 20, 1L << 20, TimeSpan.FromSeconds(5)),
        [], _temp.FullName, Path.Combine(_temp.FullName, "results"), "/nonexistent/dino-node.dll", [],
        TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), null, Live: false, "test");

    private async Task<LoadReport> RunAsync(LoadOptions options)
    {
        using var live = new LiveProgress(TextWriter.Null, allowInteractive: false);
        return await new LoadSuite(options, live).RunAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task On_one_tree_seen_by_three_nodes_every_scenario_but_failover_measures_without_errors()
    {
        var shared = Directory.CreateDirectory(Path.Combine(_temp.FullName, "shared")).FullName;

        var report = await RunAsync(Options([shared, shared, shared]));

        Assert.Equal("Full", report.Targets.Single().Sharing);
        foreach (var run in report.Scenarios.Where(r => r.Scenario != FailoverScenario.ScenarioName))
        {
            Assert.True(run.Status == ScenarioStatus.Measured, $"{run.Scenario}: {run.Status} {run.Note} {string.Join("; ", LoadReportWriter.Notes(report))}");
            Assert.All(run.Steps, s => Assert.True(s.Ok > 0, $"{run.Scenario} '{s.Step}' made no call"));
            Assert.All(run.Steps, s => Assert.Equal(0, s.Failed));
        }
        var propagation = report.Scenarios.Single(r => r.Scenario == PropagationScenario.ScenarioName);
        Assert.Contains(propagation.Steps, s => s.Step == "rename seen");
        Assert.Contains("every node lists every file", report.Scenarios.Single(r => r.Scenario == ManyWritersScenario.ScenarioName).Findings);
        var failover = report.Scenarios.Single(r => r.Scenario == FailoverScenario.ScenarioName);
        Assert.Equal(ScenarioStatus.Needs, failover.Status);
        Assert.Contains("needs nodes the runner started", failover.Note, StringComparison.Ordinal);
        Assert.Equal(0, LoadExitCode.Of(report, cancelled: false));
        Assert.Equal(["shared"], Directory.GetFileSystemEntries(_temp.FullName).Select(Path.GetFileName).Where(n => n != "results"));
        Assert.Empty(Directory.GetFileSystemEntries(shared));
    }

    [Fact]
    public async Task On_separate_volumes_scenarios_that_need_the_shared_tree_say_so_and_the_rest_measure()
    {
        var a = Directory.CreateDirectory(Path.Combine(_temp.FullName, "a")).FullName;
        var b = Directory.CreateDirectory(Path.Combine(_temp.FullName, "b")).FullName;

        var report = await RunAsync(Options([a, b]));

        Assert.Equal("None", report.Targets.Single().Sharing);
        var byName = report.Scenarios.ToDictionary(r => r.Scenario);
        Assert.Equal(ScenarioStatus.Measured, byName[SmallFilesScenario.ScenarioName].Status);
        Assert.Equal(ScenarioStatus.Measured, byName[MetadataMixScenario.ScenarioName].Status);
        foreach (var name in new[] { LargeFileScenario.ScenarioName, PropagationScenario.ScenarioName, ManyWritersScenario.ScenarioName, HotFileScenario.ScenarioName })
        {
            Assert.Equal(ScenarioStatus.Needs, byName[name].Status);
            Assert.StartsWith("needs the shared tree: a file created on node1 did not appear on node2", byName[name].Note, StringComparison.Ordinal);
            Assert.Empty(byName[name].Steps);
        }
        // small-files spread its copies over both nodes.
        Assert.Equal(0, LoadExitCode.Of(report, cancelled: false));
        Assert.Empty(Directory.GetFileSystemEntries(a));
        Assert.Empty(Directory.GetFileSystemEntries(b));
    }

    [Fact]
    public async Task Small_files_spreads_its_copies_over_the_nodes()
    {
        var a = Directory.CreateDirectory(Path.Combine(_temp.FullName, "a")).FullName;
        var b = Directory.CreateDirectory(Path.Combine(_temp.FullName, "b")).FullName;
        var seen = new HashSet<string>();
        using var watcherA = Watch(a, seen);
        using var watcherB = Watch(b, seen);

        var report = await RunAsync(Options([a, b], [new SmallFilesScenario()]));

        Assert.Equal(ScenarioStatus.Measured, report.Scenarios.Single().Status);
        lock (seen) Assert.Equal(["a", "b"], seen.Order());
    }

    private static FileSystemWatcher Watch(string directory, HashSet<string> seen)
    {
        var watcher = new FileSystemWatcher(directory) { IncludeSubdirectories = true, EnableRaisingEvents = true };
        watcher.Created += (_, e) =>
        {
            if (Path.GetFileName(e.FullPath).StartsWith('f')) lock (seen) seen.Add(Path.GetFileName(directory));
        };
        return watcher;
    }

    [Fact]
    public async Task Failover_kills_the_lease_holder_mid_run_and_reports_the_new_holder_and_the_next_commit()
    {
        var shared = Directory.CreateDirectory(Path.Combine(_temp.FullName, "shared")).FullName;
        await using var cluster = new FakeLeaseCluster(shared, 3);
        var sharing = await SharingProbe.RunAsync(cluster, TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
        Assert.Equal(cluster.PeerIdOf(cluster.Nodes[0]), sharing.LeaseHolderPeerId);
        var scenario = new FailoverScenario();
        Assert.Null(scenario.Requirements.Unmet(cluster, sharing));
        var context = new ScenarioContext(cluster, sharing, "run", new ClusterWorkload(4096, 1 << 20, 1 << 20, 1 << 20, TimeSpan.FromSeconds(5)),
            Runner.LoadSimulation.KeepConstant(4, TimeSpan.FromMilliseconds(1500), 1_000_000), TimeSpan.Zero, _ => { });

        var result = await new Runner.ScenarioRunner().RunAsync(scenario.Build(context), TestContext.Current.CancellationToken);

        Assert.Equal(["node1"], cluster.Killed);
        Assert.True(result.IsValid);
        Assert.Contains(result.Findings, f => f.StartsWith("killed lease holder node1 (kill -9) at ", StringComparison.Ordinal));
        Assert.Contains(result.Findings, f => f.StartsWith("new lease holder: node2", StringComparison.Ordinal));
        Assert.Contains(result.Findings, f => f.StartsWith("time to the next successful commit: 0.0", StringComparison.Ordinal));
        Assert.Contains("error window: none (no commit failed after the kill)", result.Findings);
    }

    [Fact]
    public async Task Failover_with_a_graceful_stop_sends_sigterm_to_the_lease_holder()
    {
        var shared = Directory.CreateDirectory(Path.Combine(_temp.FullName, "shared")).FullName;
        await using var cluster = new FakeLeaseCluster(shared, 3);
        var sharing = await SharingProbe.RunAsync(cluster, TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
        var context = new ScenarioContext(cluster, sharing, "run",
            new ClusterWorkload(4096, 1 << 20, 1 << 20, 1 << 20, TimeSpan.FromSeconds(5), GracefulFailover: true),
            Runner.LoadSimulation.KeepConstant(4, TimeSpan.FromMilliseconds(1500), 1_000_000), TimeSpan.Zero, _ => { });

        var result = await new Runner.ScenarioRunner().RunAsync(new FailoverScenario().Build(context), TestContext.Current.CancellationToken);

        Assert.Equal(["node1 (SIGTERM)"], cluster.Killed);
        Assert.Contains(result.Findings, f => f.StartsWith("stopped lease holder node1 (SIGTERM) at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_sharing_probe_waits_for_content_that_arrives_after_the_name_and_says_so()
    {
        var a = Directory.CreateDirectory(Path.Combine(_temp.FullName, "a")).FullName;
        var b = Directory.CreateDirectory(Path.Combine(_temp.FullName, "b")).FullName;
        var ct = TestContext.Current.CancellationToken;
        // "node2" shows the probe's name empty first and its bytes 200 ms later, as a node that applied the create
        // before the write would.
        var mirror = Task.Run(async () =>
        {
            for (var i = 0; i < 500; i++)
            {
                if (Directory.GetFiles(a, ".dino-load-probe-*").FirstOrDefault() is { } probe)
                {
                    var bytes = await File.ReadAllBytesAsync(probe, ct);
                    if (bytes.Length == 0) continue;
                    var copy = Path.Combine(b, Path.GetFileName(probe));
                    await File.WriteAllBytesAsync(copy, [], ct);
                    await Task.Delay(200, ct);
                    await File.WriteAllBytesAsync(copy, bytes, ct);
                    return;
                }
                await Task.Delay(5, ct);
            }
        }, ct);

        var sharing = await SharingProbe.RunAsync(new ExistingMounts([a, b]), TimeSpan.FromSeconds(3), ct);
        await mirror;

        Assert.Equal(SharingLevel.Full, sharing.Level);
        Assert.Contains("the name came before the content (not close-to-open): node2 first read 0 bytes", sharing.Detail, StringComparison.Ordinal);
    }

    public void Dispose() => _temp.Delete(recursive: true);

    /// <summary>
    /// Three "nodes" on one directory whose peers name node1 the lease holder until it is killed, and node2 after:
    /// the control surface of a cluster with a lease, without processes.
    /// </summary>
    private sealed class FakeLeaseCluster(string root, int count) : ILoadTarget, INodeControl
    {
        private readonly List<string> _killed = [];

        public IReadOnlyList<string> Killed => _killed;

        public string Name => "fake";

        public string Description => "fake";

        public IReadOnlyList<LoadNode> Nodes { get; } = Enumerable.Range(1, count).Select(i => new LoadNode($"node{i}", root, $"/data{i}", $"127.0.0.{i}:1")).ToList();

        public INodeControl? Control => this;

        public string? Problem => null;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyList<PeerView>> PeersAsync(LoadNode node, CancellationToken cancellationToken)
        {
            var holder = _killed.Count == 0 ? "node1" : "node2";
            IReadOnlyList<PeerView> peers = Nodes.Where(n => !_killed.Contains(n.Name))
                .Select(n => new PeerView(PeerIdOf(n)!, n.Address!, "alive", n.Name == holder ? "holder" : "voter", n == node)).ToList();
            return Task.FromResult(peers);
        }

        public Task<System.Text.Json.JsonElement> StatusAsync(LoadNode node, CancellationToken cancellationToken) =>
            Task.FromResult(System.Text.Json.JsonDocument.Parse("{}").RootElement.Clone());

        public string? PeerIdOf(LoadNode node) => new string(node.Name[^1], 64);

        public bool IsRunning(LoadNode node) => !_killed.Contains(node.Name);

        public Task KillAsync(LoadNode node)
        {
            _killed.Add(node.Name);
            return Task.CompletedTask;
        }

        public Task TerminateAsync(LoadNode node)
        {
            _killed.Add(node.Name + " (SIGTERM)");
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
