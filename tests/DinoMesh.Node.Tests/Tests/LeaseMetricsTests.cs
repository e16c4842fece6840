using System.Globalization;
using System.Text.RegularExpressions;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// The lease's metrics on a real 3-node cluster, every node serving <c>--metrics</c>: exactly one node reports that it
/// holds the lease, all agree on the term and the commit version, and the holder reports each follower's lag; after a
/// kill -9 of the holder a survivor reports that it holds the lease in a higher term, and the survivors count the
/// holder change. <c>status --json</c> carries the same counts.
/// </summary>
public sealed partial class LeaseMetricsTests : IDisposable
{
    private static readonly string[] NodeHosts = ["127.0.0.91", "127.0.0.92", "127.0.0.93"];
    private static readonly string[] MetricsHosts = ["127.0.0.94", "127.0.0.95", "127.0.0.96"];
    private static readonly int[] All = [0, 1, 2];
    private readonly TestCluster _cluster;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public LeaseMetricsTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: [.. NodeHosts, .. MetricsHosts]);
    }

    [Fact]
    public async Task Every_node_exports_one_holder_and_a_survivor_of_its_kill_reports_itself_holder_in_a_higher_term()
    {
        var ct = TestContext.Current.CancellationToken;
        var nodes = new[] { _cluster.Add("a", NodeHosts[0]), _cluster.Add("b", NodeHosts[1]), _cluster.Add("c", NodeHosts[2]) };
        Form(nodes);
        _cluster.WaitForVoters(nodes, 3);
        File.WriteAllText(Path.Combine(nodes[0].MountPoint, "committed"), "lease metrics");

        // Every node's view, once they agree (a commit in flight may leave one a version behind for a moment).
        Dictionary<int, string> texts = [];
        var agreed = await UntilAsync(async () =>
        {
            texts = await ScrapeAllAsync(All, ct);
            return texts.Values.Count(t => Value(t, "dinomesh_lease_is_holder") == 1) == 1
                && texts.Values.Select(t => Value(t, "dinomesh_lease_term")).Distinct().Count() == 1
                && texts.Values.Select(t => Value(t, "dinomesh_lease_commit_version")).Distinct().Count() == 1;
        }, ct);
        Assert.True(agreed, "the nodes did not agree on one holder, a term and a commit version:\n" + Summary(texts));
        var holder = texts.Single(t => Value(t.Value, "dinomesh_lease_is_holder") == 1).Key;
        var holderText = texts[holder];
        var term = Value(holderText, "dinomesh_lease_term")!.Value;
        Assert.True(Value(holderText, "dinomesh_lease_commit_version") > 1, Summary(texts));
        Assert.Equal(1, Value(holderText, "dinomesh_lease_role", "role=\"holder\""));
        Assert.Equal(3, Value(holderText, "dinomesh_lease_voters"));
        Assert.Equal(1, Value(holderText, "dinomesh_lease_quorum"));
        Assert.True(Value(holderText, "dinomesh_lease_elections_won_total") >= 1, holderText);
        Assert.Equal(2, Series(holderText, "dinomesh_lease_replication_lag").Count);
        Assert.All(texts.Values, t => Assert.NotNull(Value(t, "dinomesh_membership_local_health")));
        Assert.True(Value(texts[0], "dinomesh_lease_proposals_total", "result=\"committed\"") >= 1, texts[0]);
        var status = nodes[holder].Status();
        Assert.True(status.GetProperty("lease").GetProperty("electionsWon").GetInt64() >= 1, status.ToString());
        Assert.True(status.GetProperty("lease").TryGetProperty("roundsDeferred", out _), status.ToString());

        var survivors = Enumerable.Range(0, 3).Where(i => i != holder).ToArray();
        var changesBefore = survivors.ToDictionary(i => i, i => Value(texts[i], "dinomesh_lease_holder_changes_total")!.Value);
        nodes[holder].Kill9();
        _cluster.Log($"killed the holder {nodes[holder].Name} at term {term}");

        var taken = await UntilAsync(async () =>
        {
            texts = await ScrapeAllAsync(survivors, ct);
            return texts.Values.Any(t => Value(t, "dinomesh_lease_is_holder") == 1 && Value(t, "dinomesh_lease_term") > term);
        }, ct);
        Assert.True(taken, $"no survivor reports holding the lease after term {term}:\n" + Summary(texts));
        var next = texts.Single(t => Value(t.Value, "dinomesh_lease_is_holder") == 1).Key;
        Assert.True(Value(texts[next], "dinomesh_lease_holder_changes_total") > changesBefore[next], Summary(texts));
        _cluster.Log($"{nodes[next].Name} holds the lease: {Summary(texts)}");
    }

    /// <summary>Founds on the first node and joins the others through it, each serving --metrics on an address of its own.</summary>
    private void Form(NodeProcess[] nodes)
    {
        nodes[0].Launch(extra: Metrics(0));
        nodes[0].WaitUntilUp();
        var token = nodes[0].PrintedToken();
        for (var i = 1; i < nodes.Length; i++) nodes[i].Launch(join: nodes[0].Endpoint, token: token, extra: Metrics(i));
        for (var i = 1; i < nodes.Length; i++) nodes[i].WaitUntilUp();
    }

    private string[] Metrics(int node) => ["--metrics", $"{MetricsHosts[node]}:{_cluster.Port}"];

    private async Task<Dictionary<int, string>> ScrapeAllAsync(int[] nodes, CancellationToken ct)
    {
        var texts = new Dictionary<int, string>();
        foreach (var i in nodes)
        {
            try
            {
                texts[i] = await _http.GetStringAsync(new Uri($"http://{MetricsHosts[i]}:{_cluster.Port}/metrics"), ct);
            }
            catch (HttpRequestException)
            {
                texts[i] = "";   // still starting, or killed
            }
        }
        return texts;
    }

    /// <summary>Polls <paramref name="condition"/> every 200 ms for at most 30 s.</summary>
    private static async Task<bool> UntilAsync(Func<Task<bool>> condition, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < until)
        {
            if (await condition()) return true;
            await Task.Delay(200, ct);
        }
        return false;
    }

    /// <summary>The value of the first series of <paramref name="name"/> whose labels contain <paramref name="label"/>.</summary>
    private static double? Value(string text, string name, string label = "") =>
        Series(text, name).Where(s => s.Labels.Contains(label, StringComparison.Ordinal)).Select(s => (double?)s.Value).FirstOrDefault();

    private static List<(string Labels, double Value)> Series(string text, string name) =>
        [.. SeriesLine().Matches(text).Where(m => m.Groups["name"].Value == name)
            .Select(m => (m.Groups["labels"].Value, double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)))];

    [GeneratedRegex(@"(?m)^(?<name>[a-z_]+)(\{(?<labels>[^}]*)\})? (?<value>[-0-9.e+]+)( \d+)?$")]
    private static partial Regex SeriesLine();

    private static string Summary(Dictionary<int, string> texts) => string.Join("\n", texts.Select(t =>
        $"node {t.Key}: holder {Value(t.Value, "dinomesh_lease_is_holder")}, term {Value(t.Value, "dinomesh_lease_term")}, commit {Value(t.Value, "dinomesh_lease_commit_version")}, holder changes {Value(t.Value, "dinomesh_lease_holder_changes_total")}"));

    public void Dispose()
    {
        _http.Dispose();
        _cluster.Dispose();
    }
}
