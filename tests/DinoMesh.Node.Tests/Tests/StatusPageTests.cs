using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// <c>--metrics HOST:PORT</c> on a real 3-node cluster: Prometheus text at /metrics with the per-layer instruments,
/// and the status page at / in headless Chromium: it loads with no external assets, lists the three members, and
/// shows a stopped node as left without being reloaded. Both tests use one cluster (<see cref="ClassCluster"/>); the
/// page test stops c, so it runs last (<see cref="SharedClusterFirst"/>).
/// </summary>
[TestCaseOrderer(typeof(SharedClusterFirst))]
public sealed partial class StatusPageTests : IClassFixture<ClassCluster>, IDisposable
{
    private const string MetricsHost = "127.0.0.45";
    private readonly ClassCluster _shared;
    private readonly ITestOutputHelper _output;
    private TestCluster? _cluster;

    public StatusPageTests(ClassCluster shared, ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _shared = shared;
        _output = output;
    }

    private string MetricsAddress => $"{MetricsHost}:{_cluster!.Port}";

    /// <summary>a (serving --metrics), b and c, joined through a: the class's shared cluster, formed on first use.</summary>
    private (NodeProcess A, NodeProcess B, NodeProcess C) FormCluster()
    {
        var (cluster, nodes) = _shared.Get(c => Form(c), ["127.0.0.46", "127.0.0.47", "127.0.0.48", MetricsHost]);
        _cluster = cluster;
        return (nodes[0], nodes[1], nodes[2]);
    }

    private static NodeProcess[] Form(TestCluster cluster)
    {
        var a = cluster.Add("a", "127.0.0.46");
        var b = cluster.Add("b", "127.0.0.47");
        var c = cluster.Add("c", "127.0.0.48");
        a.Launch(extra: ["--metrics", $"{MetricsHost}:{cluster.Port}"]);
        a.WaitUntilUp();
        var token = a.PrintedToken();
        b.Launch(join: a.Endpoint, token: token);
        c.Launch(join: a.Endpoint, token: token);
        b.WaitUntilUp();
        c.WaitUntilUp();
        cluster.WaitForViews([a], v => TestCluster.AllAlive(v, [a, b, c]), TimeSpan.FromSeconds(60), "a lists a, b and c alive");
        return [a, b, c];
    }

    [Fact]
    [SharedCluster]
    public async Task Metrics_are_served_in_the_prometheus_text_format()
    {
        var (a, _, _) = FormCluster();
        File.WriteAllText(Path.Combine(a.MountPoint, "touched"), "metrics");
        File.ReadAllText(Path.Combine(a.MountPoint, "touched"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var response = await http.GetAsync(new Uri($"http://{MetricsAddress}/metrics"), TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, response.ToString());
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Matches(Series("dinomesh_members", "state=\"alive\"", "3"), text);
        Assert.Matches(Series("dinomesh_fuse_request_duration_seconds_bucket", "op=\"create\"", @"[1-9]\d*"), text);
        Assert.Matches(Series("dinomesh_commits_total", "result=\"ok\"", @"[1-9]\d*"), text);
        Assert.Matches(Series("dinomesh_log_appends_total", "", @"[1-9]\d*"), text);
        Assert.Matches(Series("dinomesh_transport_sent_bytes_total", "protocol=\"/dinomesh/membership/1\"", @"[1-9]\d*"), text);
        Assert.Matches(Series("dinomesh_membership_events_total", "kind=\"joined\"", @"[1-9]\d*"), text);
        Assert.Contains("# TYPE dinomesh_commits_total counter", text, StringComparison.Ordinal);
        // The lease holder's hold-back policies: each one's decision, its switches and the counts it judges by.
        Assert.Matches(Series("dinomesh_lease_policy_on", "policy=\"hold_notices\"", "[01]"), text);
        Assert.Matches(Series("dinomesh_lease_policy_on", "policy=\"defer_appends\"", "[01]"), text);
        Assert.Matches(Series("dinomesh_lease_policy_switches_total", "policy=\"hold_notices\"", @"\d+"), text);
        Assert.Matches(Series("dinomesh_lease_held_notices_total", "outcome=\"carried\"", @"\d+"), text);
        Assert.Matches(Series("dinomesh_lease_deferred_appends_total", "outcome=\"merged\"", @"\d+"), text);
        Assert.Matches(Series("dinomesh_lease_quick_voters_demoted_total", "", @"\d+"), text);
        Assert.DoesNotContain("dmt1.", text, StringComparison.Ordinal);
        // The node's gauges share one status per collection (ScrapeMemo): each still says what `status` says.
        var inodes = a.Status().GetProperty("inodes").GetInt64();
        Assert.Matches(Series("dinomesh_inodes", "", inodes.ToString(System.Globalization.CultureInfo.InvariantCulture)), text);
        Assert.Matches(Series("dinomesh_members", "state=\"dead\"", "0"), text);
    }

    private static Regex Series(string name, string label, string value) =>
        new($@"(?m)^{Regex.Escape(name)}\{{[^}}]*{Regex.Escape(label)}[^}}]*\}} {value}(\.0+)?( \d+)?$");

    [Fact]
    public async Task The_status_page_shows_the_members_and_updates_when_a_node_stops_without_a_reload()
    {
        if (HeadlessChromium.Executable is null)
        {
            Requirement.Unavailable("chromium is not installed (scripts/install-deps.sh installs it)");
        }
        var (a, b, c) = FormCluster();
        var ct = TestContext.Current.CancellationToken;
        await using var browser = await HeadlessChromium.StartAsync(Path.Combine(_cluster!.Root, "chromium.log"), ct);
        var url = $"http://{MetricsAddress}/";
        await browser.NavigateAsync(url, ct);
        const string members = "JSON.stringify([...document.querySelectorAll('#members tr[data-peer]')].map(r => [r.dataset.peer, r.dataset.state]))";

        var listed = await browser.PollAsync(members, v => Rows(v).Count == 3 && Rows(v).Values.All(s => s == "alive"), TimeSpan.FromSeconds(30), ct);
        Assert.True(listed, $"the page did not list three alive members: {await browser.EvaluateAsync(members, ct)}");
        var expected = new[] { a.PeerId!, b.PeerId!, c.PeerId! }.Order(StringComparer.Ordinal);
        Assert.Equal(expected, Rows((await browser.EvaluateAsync(members, ct))!).Keys.Order(StringComparer.Ordinal));
        var mount = (string?)await browser.EvaluateAsync("document.getElementById('mount').textContent", ct);
        Assert.Equal(a.MountPoint, mount);
        // Everything the page loaded came from the node itself.
        var origins = (await browser.EvaluateAsync("JSON.stringify(performance.getEntriesByType('resource').map(e => new URL(e.name).origin))", ct))!;
        Assert.All(JsonSerializer.Deserialize<string[]>((string)origins!)!, o => Assert.Equal($"http://{MetricsAddress}", o));

        // Mark this very document: a reload would lose the mark.
        await browser.EvaluateAsync("window.dinomeshMark = 'same document'", ct);
        var updatesBefore = int.Parse((string)(await browser.EvaluateAsync("document.body.dataset.updates", ct))!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, c.Terminate());
        var shown = await browser.PollAsync(members, v => Rows(v).GetValueOrDefault(c.PeerId!) is "left" or "dead", TimeSpan.FromSeconds(30), ct);
        Assert.True(shown, $"the page did not show c as left: {await browser.EvaluateAsync(members, ct)}");
        Assert.Equal("same document", (string?)await browser.EvaluateAsync("window.dinomeshMark", ct));
        var updatesAfter = int.Parse((string)(await browser.EvaluateAsync("document.body.dataset.updates", ct))!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(updatesAfter > updatesBefore, "the page did not receive updates");
        _output.WriteLine($"page updates: {updatesBefore} before the stop, {updatesAfter} when c showed as left");
    }

    private static Dictionary<string, string> Rows(JsonNode value) =>
        JsonSerializer.Deserialize<string[][]>((string)value!)!.ToDictionary(r => r[0], r => r[1]);

    public void Dispose()
    {
        if (TestContext.Current.TestState?.Result is TestResult.Failed)
        {
            _output.WriteLine(_shared.Diagnostics());
        }
    }
}
