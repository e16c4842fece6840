using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>kill -9 of one node of three: the others declare it dead within the SWIM bound; restarted, it rejoins.</summary>
public sealed class CrashAndRejoinTests : IDisposable
{
    private readonly TestCluster _cluster;

    public CrashAndRejoinTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output);
    }

    [Fact]
    public void Killed_node_is_declared_dead_within_the_bound_and_rejoins_from_its_data_dir_without_a_credential()
    {
        var a = _cluster.Add("a", "127.0.0.11");
        var b = _cluster.Add("b", "127.0.0.12");
        var c = _cluster.Add("c", "127.0.0.13");
        _cluster.Form(a, b, c);
        var all = new[] { a, b, c };
        _cluster.WaitForViews(all, v => TestCluster.AllAlive(v, all), TimeSpan.FromSeconds(20), "every node lists a, b, c alive");
        var victim = c.PeerId!;

        var bound = MembershipBounds.CrashDetection(3);
        var deadline = MembershipBounds.Deadline(bound);
        var killedAt = DateTime.UtcNow;
        c.Kill9();
        foreach (var observer in new[] { a, b })
        {
            var suspected = observer.Daemon!.WaitForLine(l => l.Contains($"member {victim[..12]}", StringComparison.Ordinal) && l.Contains("is suspected", StringComparison.Ordinal), deadline, killedAt);
            var dead = observer.Daemon.WaitForLine(l => l.Contains($"member {victim[..12]}", StringComparison.Ordinal) && l.Contains("is dead", StringComparison.Ordinal), deadline, killedAt);
            Assert.True(dead is not null, $"{observer.Name} did not log {victim[..12]} dead within {deadline.TotalSeconds:F1} s of the kill (protocol bound {bound.TotalSeconds:F1} s)");
            _cluster.Log($"{observer.Name}: c suspected after {Since(killedAt, suspected)}, dead after {Since(killedAt, dead)} (bound {bound.TotalSeconds:F2} s, deadline {deadline.TotalSeconds:F1} s)");
        }
        _cluster.WaitForViews([a, b], v => v.SingleOrDefault(p => p.Id == victim)?.State == "dead", TimeSpan.FromSeconds(10), "a and b list c dead");
        Assert.All(new[] { a, b }, o => Assert.Equal(3, o.Peers().Count));

        // Same data dir, no --join and no --token: cluster.json remembers the cluster and its members.
        c.Launch();
        c.WaitUntilUp();
        var upAt = DateTime.UtcNow;
        var rejoin = _cluster.WaitForViews(all, v => TestCluster.AllAlive(v, all), MembershipBounds.Deadline(MembershipBounds.PartitionHeal(3)), "after the restart every node lists a, b, c alive");
        _cluster.Log($"restarted c listed alive by all three {rejoin.TotalSeconds:F2} s after its mount was up (CLI polling resolution ~1 s)");
        Assert.Equal(victim, c.Status().GetProperty("peerId").GetString());
        foreach (var observer in new[] { a, b })
        {
            var back = observer.Daemon!.FindLine(l => l.Contains($"member {victim[..12]}", StringComparison.Ordinal) && l.Contains("is alive", StringComparison.Ordinal), killedAt);
            _cluster.Log($"{observer.Name}: logged c alive again {(back is null ? "(no line)" : $"{(back.ReceivedUtc - upAt).TotalSeconds:F2} s after c's mount: {back.Text}")}");
        }
    }

    private static string Since(DateTime from, LogLine? line) => line is null ? "never" : $"{(line.ReceivedUtc - from).TotalSeconds:F2} s";

    public void Dispose() => _cluster.Dispose();
}
