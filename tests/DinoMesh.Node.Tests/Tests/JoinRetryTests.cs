using System.Buffers.Text;
using System.Diagnostics;
using System.Security.Cryptography;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// A join is tried again (after 1, 2, 4 ... s, until the 30 s join deadline) while its seed cannot be reached, so a
/// newcomer started before its seed still joins once the seed listens; a refusal is final, so a wrong credential
/// ends the start at once instead of being asked again for the whole deadline.
/// </summary>
public sealed class JoinRetryTests : IDisposable
{
    /// <summary>What the joining node logs for each attempt it makes again (ClusterNode.JoinWithRetriesAsync).</summary>
    private const string RetryLine = "trying again in";

    /// <summary>The daemon's join deadline (ClusterOptions.JoinDeadline): a join still retrying after it has given up.</summary>
    private static readonly TimeSpan JoinDeadline = TimeSpan.FromSeconds(30);

    private readonly TestCluster _cluster;
    private readonly ITestOutputHelper _output;

    public JoinRetryTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _output = output;
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.163", "127.0.0.164"]);
    }

    [Fact]
    public void A_join_whose_seed_is_not_up_yet_is_retried_and_succeeds_once_the_seed_listens()
    {
        // The credential exists only once a cluster is founded: found it, then stop the founder so nothing listens
        // at its address when the newcomer starts.
        var founder = _cluster.Add("founder", "127.0.0.163");
        founder.Start();
        var token = founder.PrintedToken();
        Assert.Equal(0, founder.Terminate());

        var joiner = _cluster.Add("joiner", "127.0.0.164");
        var daemon = joiner.Launch(join: founder.Endpoint, token: token);
        // Two failed attempts (the second line says "in 2 s") before the seed comes back: the join was really retried,
        // not merely slow the first time.
        var second = daemon.WaitForLine(l => l.Contains($"{RetryLine} 2 s", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        Check.True(second is not null && !daemon.HasExited, () => $"the joiner did not retry its unreachable seed:\n{joiner.Diagnostics()}");
        var retries = daemon.Lines.Where(l => l.Text.Contains(RetryLine, StringComparison.Ordinal)).ToList();
        _cluster.Log($"joiner retried {retries.Count} times before the seed restarts: {retries[0].Text}");
        Assert.All(retries, l => Assert.Contains($"cannot reach {founder.Endpoint}", l.Text, StringComparison.Ordinal));

        // The seed comes back on its data directory (same cluster, same credential, same address).
        founder.Launch();
        founder.WaitUntilUp();
        joiner.WaitUntilUp(TimeSpan.FromSeconds(60));
        Assert.NotNull(daemon.FindLine(l => l.Contains("joined cluster", StringComparison.Ordinal) && l.Contains(founder.Endpoint, StringComparison.Ordinal)));
        _cluster.WaitForViews([founder, joiner], v => TestCluster.AllAlive(v, [founder, joiner]), TimeSpan.FromSeconds(30),
            "founder and retried joiner list each other alive");
    }

    [Fact]
    public void A_wrong_credential_against_a_live_seed_is_refused_at_once_and_not_retried()
    {
        var founder = _cluster.Add("founder", "127.0.0.163");
        founder.Start();
        var clusterId = founder.Status().GetProperty("clusterId").GetString();
        var wrong = $"dmt1.{clusterId}.{Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32))}";

        var newcomer = _cluster.Add("newcomer", "127.0.0.164");
        var clock = Stopwatch.StartNew();
        var daemon = newcomer.Launch(join: founder.Endpoint, token: wrong);
        var code = daemon.WaitForExit(2 * JoinDeadline);
        var took = clock.Elapsed;
        _output.WriteLine($"exit {code} after {took.TotalSeconds:F1} s; stderr:\n{daemon.Stderr}");
        Check.True(code is not null, () => $"the newcomer was not refused within {2 * JoinDeadline.TotalSeconds:F0} s\n{newcomer.Diagnostics()}");
        Assert.Equal(3, code);
        Assert.Contains("refused", daemon.Stderr, StringComparison.Ordinal);
        // Asked once: no attempt again. A retried refusal would log a line per attempt and give up only after its last
        // attempt, 15 s after the first (attempts at 0, 1, 3, 7, 15 s). The bound is loose on purpose (about 1 s
        // measured here; a loaded machine starts .NET slowly) but still below what any retried refusal takes.
        Assert.DoesNotContain(daemon.Lines, l => l.Text.Contains(RetryLine, StringComparison.Ordinal));
        Assert.True(took < JoinDeadline / 2, $"the refusal took {took.TotalSeconds:F1} s, not well under the {JoinDeadline.TotalSeconds:F0} s join deadline");
        _cluster.WaitForViews([founder], v => TestCluster.AllAlive(v, [founder]), TimeSpan.FromSeconds(10), "the founder lists only itself");
    }

    public void Dispose() => _cluster.Dispose();
}
