using DinoMesh.Load.Cli;
using DinoMesh.Load.Cluster;
using DinoMesh.Load.Reporting;
using DinoMesh.Load.Runner;
using DinoMesh.Load.Scenarios;

namespace DinoMesh.Load.Tests;

public sealed class LoadPartsTests
{
    private const long Ms = 1_000_000;

    [Fact]
    public void Failover_error_window_runs_from_the_first_to_the_last_failure_after_the_kill()
    {
        CommitAttempt[] attempts =
        [
            new(0, 10 * Ms, true),
            new(90 * Ms, 120 * Ms, false), // began before the kill, failed after: counts
            new(150 * Ms, 400 * Ms, false),
            new(410 * Ms, 900 * Ms, false),
            new(95 * Ms, 950 * Ms, true), // began before the kill: not "the next commit"
            new(905 * Ms, 980 * Ms, true),
            new(990 * Ms, 1000 * Ms, true),
        ];

        var outcome = FailoverAnalysis.Analyze(100 * Ms, attempts);

        Assert.Equal(3, outcome.Failed);
        Assert.Equal(TimeSpan.FromMilliseconds(780), outcome.ErrorWindow);
        Assert.Equal(TimeSpan.FromMilliseconds(880), outcome.TimeToNextCommit);
    }

    [Fact]
    public void Failover_with_no_failure_has_no_window_and_none_succeeding_has_no_next_commit()
    {
        Assert.Null(FailoverAnalysis.Analyze(0, [new(1, 2, true)]).ErrorWindow);
        Assert.Null(FailoverAnalysis.Analyze(0, [new(1, 2, false)]).TimeToNextCommit);
    }

    [Theory]
    [InlineData("20s", 20_000)]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1.5", 1_500)]
    [InlineData("1h", 3_600_000)]
    public void Durations_parse(string text, int milliseconds)
    {
        Assert.True(DurationText.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("")]
    [InlineData("20x")]
    [InlineData("s")]
    [InlineData("-3")]
    [InlineData("9999h")]
    public void Nonsense_durations_are_refused(string text) => Assert.False(DurationText.TryParse(text, out _));

    [Fact]
    public void Load_specs_fill_in_the_scenario_default_copies()
    {
        Assert.True(LoadSpec.TryParse("keep", out var keep, out _));
        Assert.Equal(6, keep.Build(6, TimeSpan.FromSeconds(1), 10).Copies);
        Assert.True(LoadSpec.TryParse("keep:8", out var eight, out _));
        Assert.Equal(8, eight.Build(6, TimeSpan.FromSeconds(1), 10).Copies);
        Assert.True(LoadSpec.TryParse("ramp:2-16", out var ramp, out _));
        var r = ramp.Build(6, TimeSpan.FromSeconds(4), 10);
        Assert.Equal((LoadShape.Ramp, 2, 16), (r.Shape, r.StartCopies, r.EndCopies));
        Assert.True(LoadSpec.TryParse("ramp:12", out var rampTo, out _));
        Assert.Equal(1, rampTo.Build(6, TimeSpan.FromSeconds(4), 10).StartCopies);
        Assert.True(LoadSpec.TryParse("inject:500/32", out var inject, out _));
        var i = inject.Build(6, TimeSpan.FromSeconds(4), 10);
        Assert.Equal((LoadShape.Inject, 500.0, 32), (i.Shape, i.Rate, i.Copies));
        Assert.False(LoadSpec.TryParse("inject:0", out _, out _));
        Assert.False(LoadSpec.TryParse("burst:3", out _, out var error));
        Assert.Contains("keep:8", error, StringComparison.Ordinal);
    }

    private static (LoadOptions? Options, IReadOnlyList<string> Errors) Bind(params string[] args)
    {
        var command = new LoadCommand();
        var sub = command.Create("x", "x", ClusterScenarios.All, (_, _) => Task.FromResult(0));
        var parse = sub.Parse(args);
        return command.Bind(parse, ClusterScenarios.All);
    }

    [Fact]
    public void Scenario_subcommands_exist_for_every_scenario_and_all()
    {
        var root = new BenchCommand().Create((_, _) => Task.FromResult(0));
        LoadCommand.AddTo(root, (_, _) => Task.FromResult(0));
        Assert.Equal(ClusterScenarios.All.Select(s => s.Name).Append("all"), root.Subcommands.Select(c => c.Name));
    }

    [Fact]
    public void The_done_command_binds_to_three_nodes_for_twenty_seconds()
    {
        var (options, errors) = Bind("--nodes", "3", "--duration", "20s");
        Assert.Empty(errors);
        Assert.Equal(3, options!.Nodes);
        Assert.Empty(options.Mounts);
        Assert.Equal(TimeSpan.FromSeconds(20), options.Duration);
        Assert.Equal(LoadShape.KeepConstant, options.Load.Shape);
        Assert.EndsWith("dino-node.dll", options.DinoDll, StringComparison.Ordinal);
    }

    [Fact]
    public void Conflicting_or_bad_options_are_all_reported()
    {
        var (options, errors) = Bind("--nodes", "2", "--mount", "/tmp", "--duration", "soon", "--load", "burst", "--references", "nfs");
        Assert.Null(options);
        Assert.Contains(errors, e => e.Contains("--nodes and --mount", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("--duration", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("--load", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("nfs", StringComparison.Ordinal));
        Assert.Contains(Bind("--nodes", "3", "--references", "bindfs").Errors, e => e.Contains("--nodes 1", StringComparison.Ordinal));
        Assert.Contains(Bind("--load", "ramp:1-4", "--copies", "3").Errors, e => e.Contains("--copies goes with --load keep", StringComparison.Ordinal));
    }

    [Fact]
    public void Requirements_name_what_is_missing_with_the_probe_evidence()
    {
        var two = new ExistingMounts(["/a", "/b"]);
        var notShared = new SharingReport(SharingLevel.None, "a file created on node1 did not appear on node2", null, "no holder");
        var namesOnly = new SharingReport(SharingLevel.NamesOnly, "reading it there gave: EIO", null, "no holder");
        Assert.Null(new Requirements().Unmet(two, notShared));
        Assert.Equal("needs the shared tree: a file created on node1 did not appear on node2", new Requirements(SharedNames: true).Unmet(two, notShared));
        Assert.Null(new Requirements(SharedNames: true).Unmet(two, namesOnly));
        Assert.Equal("needs chunk exchange between nodes: reading it there gave: EIO", new Requirements(SharedContent: true).Unmet(two, namesOnly));
        Assert.StartsWith("needs at least 3 nodes", new Requirements(MinNodes: 3).Unmet(two, notShared), StringComparison.Ordinal);
        Assert.StartsWith("needs nodes the runner started", new Requirements(OwnedProcesses: true).Unmet(two, notShared), StringComparison.Ordinal);
        var full = new SharingReport(SharingLevel.Full, "shared", null, "no node holds a metadata lease");
        Assert.Equal("needs the lease holder: no node holds a metadata lease", new Requirements(LeaseHolder: true).Unmet(two, full));
    }

    [Fact]
    public void The_lease_holder_is_read_from_a_peer_role_or_a_status_field()
    {
        PeerView[] none = [new("aa", "x", "alive", "member", true)];
        Assert.Null(NodeCli.LeaseHolder(none, System.Text.Json.JsonDocument.Parse("""{"quorum":"local"}""").RootElement));
        Assert.Equal("bb", NodeCli.LeaseHolder([.. none, new("bb", "y", "alive", "holder", false)], null));
        Assert.Equal("cc", NodeCli.LeaseHolder(none, System.Text.Json.JsonDocument.Parse("""{"leaseHolder":"cc"}""").RootElement));
        Assert.Equal("dd", NodeCli.LeaseHolder(none, System.Text.Json.JsonDocument.Parse("""{"holder":{"id":"dd"}}""").RootElement));
    }

    [Fact]
    public void Compare_matches_steps_by_scenario_target_and_name_and_gives_ratios()
    {
        var before = Reports.Sample(opsPerSecond: 100, p99: 2000);
        var now = Reports.Sample(opsPerSecond: 150, p99: 1000);

        var text = ReportComparison.Table(now, before).ToText();

        Assert.Contains("1.50x", text, StringComparison.Ordinal);
        Assert.Contains("0.50x", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_reads_an_earlier_report_from_its_json_or_a_sibling_of_it()
    {
        var directory = Directory.CreateTempSubdirectory("dino-load-compare-");
        try
        {
            var report = Reports.Sample(opsPerSecond: 100, p99: 2000);
            var paths = LoadReportWriter.Save(report, directory.FullName);
            var md = paths.Single(p => p.EndsWith(".md", StringComparison.Ordinal));
            var loaded = ReportComparison.Load(md);
            Assert.Equal(report.Scenarios[0].Steps[0].OpsPerSecond, loaded.Scenarios[0].Steps[0].OpsPerSecond);
            Assert.Equal(ScenarioStatus.Measured, loaded.Scenarios[0].Status);
            Assert.Throws<FileNotFoundException>(() => ReportComparison.Load(Path.Combine(directory.FullName, "nothing.json")));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Exit_code_is_zero_for_measured_or_needs_and_one_for_errors_or_failures()
    {
        var measured = Reports.Sample(100, 1000);
        Assert.Equal(0, LoadExitCode.Of(measured, cancelled: false));
        var needs = measured with { Scenarios = [.. measured.Scenarios, ScenarioRecords.NotRun("propagation", "dino", ScenarioStatus.Needs, "needs the shared tree")] };
        Assert.Equal(0, LoadExitCode.Of(needs, cancelled: false));
        var errors = measured with { Scenarios = [measured.Scenarios[0] with { Status = ScenarioStatus.Errors }] };
        Assert.Equal(1, LoadExitCode.Of(errors, cancelled: false));
        var failed = measured with { Scenarios = [ScenarioRecords.NotRun("small-files", "dino", ScenarioStatus.Failed, "node died")] };
        Assert.Equal(1, LoadExitCode.Of(failed, cancelled: false));
        Assert.Equal(LoadExitCode.Cancelled, LoadExitCode.Of(measured, cancelled: true));
    }
}
