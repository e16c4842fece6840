using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>A node that leaves (dino-node leave, or SIGTERM) exits 0 and is listed left by the others, never dead.</summary>
public sealed class GracefulLeaveTests : IDisposable
{
    private readonly TestCluster _cluster;

    public GracefulLeaveTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output);
    }

    [Fact]
    public void Leave_command_stops_the_node_with_exit_0_and_the_others_list_it_left_never_dead()
    {
        var (a, b, c) = FormThree();
        var askedAt = DateTime.UtcNow;
        var r = c.Cli("leave");
        Assert.True(r.ExitCode == 0, r.ToString());
        AssertLeftNeverDead(askedAt, c, a, b);
    }

    [Fact]
    public void Sigterm_unmounts_exits_0_and_the_others_list_the_node_left_never_dead()
    {
        var (a, b, c) = FormThree();
        var askedAt = DateTime.UtcNow;
        Signal.Send(c.Daemon!.Pid, Signal.SIGTERM);
        AssertLeftNeverDead(askedAt, c, a, b);
    }

    private (NodeProcess A, NodeProcess B, NodeProcess C) FormThree()
    {
        var a = _cluster.Add("a", "127.0.0.11");
        var b = _cluster.Add("b", "127.0.0.12");
        var c = _cluster.Add("c", "127.0.0.13");
        _cluster.Form(a, b, c);
        var all = new[] { a, b, c };
        _cluster.WaitForViews(all, v => TestCluster.AllAlive(v, all), TimeSpan.FromSeconds(20), "every node lists a, b, c alive");
        return (a, b, c);
    }

    private void AssertLeftNeverDead(DateTime since, NodeProcess leaver, params NodeProcess[] observers)
    {
        var code = leaver.Daemon!.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.True(code == 0, $"{leaver.Name} exited {code?.ToString() ?? "not at all within 30 s"}, expected 0");
        _cluster.Log($"{leaver.Name} exited 0 {(DateTime.UtcNow - since).TotalSeconds:F2} s after being asked to leave");
        Assert.False(MountTable.IsFuseMounted(leaver.MountPoint), $"{leaver.Name} exited but left {leaver.MountPoint} mounted");

        var id = leaver.PeerId!;
        var seen = new List<string>();
        void Record(NodeProcess o, IReadOnlyList<PeerEntry> view) => seen.Add($"{o.Name}:{view.SingleOrDefault(p => p.Id == id)?.State ?? "absent"}");
        var took = _cluster.WaitForViews(observers, v => v.SingleOrDefault(p => p.Id == id)?.State == "left", TimeSpan.FromSeconds(15), $"the others list {leaver.Name} left", Record);
        _cluster.Log($"{string.Join(" and ", observers.Select(o => o.Name))} list {leaver.Name} left {took.TotalSeconds:F2} s after its exit");

        // Past the longest suspicion a stale probe could have started: the listing must stay left.
        var watch = MembershipBounds.MaxSuspicionTimeout(3) * 2;
        Poll.Until(() =>
        {
            foreach (var o in observers)
            {
                Record(o, o.Peers());
            }
            return false;
        }, watch);
        Assert.DoesNotContain(seen, s => s.EndsWith(":dead", StringComparison.Ordinal));
        Assert.All(observers, o => Assert.Equal("left", o.StateOf(id)));
        foreach (var o in observers)
        {
            // From the leave on: a node still starting can be suspected, even declared dead and refute, while it
            // joins on a loaded machine (80 ms probe timeout); that is not what this test is about.
            var dead = o.Daemon!.FindLine(l => l.Contains($"member {id[..12]}", StringComparison.Ordinal) && l.Contains("is dead", StringComparison.Ordinal), since);
            Assert.True(dead is null, $"{o.Name} logged {leaver.Name} dead: {dead?.Text}");
            var suspected = o.Daemon.FindLine(l => l.Contains($"member {id[..12]}", StringComparison.Ordinal) && l.Contains("suspected", StringComparison.Ordinal), since);
            _cluster.Log($"{o.Name}: {(suspected is null ? "did not suspect " + leaver.Name + " after it left" : "suspected " + leaver.Name + ": " + suspected.Text)}");
        }
        _cluster.Log($"views over {watch.TotalSeconds:F1} s after leaving: {string.Join(" ", seen.Distinct())}");
    }

    public void Dispose() => _cluster.Dispose();
}
