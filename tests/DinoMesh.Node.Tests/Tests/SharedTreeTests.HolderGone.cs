using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

// Holder-gone evidence (protocol.md, "Holder gone"): a voter whose holder's heartbeat is late probes the holder's
// address, and only a refused connect (no process listens there) lets it campaign before the holder's lease ends.
public sealed partial class SharedTreeTests
{
    private const string HolderGoneLine = "is gone (its heartbeat is late and a connect to its address was refused)";

    /// <summary>
    /// mkdir, again if a signal to this test process (a child CLI exiting) interrupted it while it waited for a holder:
    /// an interrupted mkdir may still have been committed, so EEXIST after EINTR counts as made.
    /// </summary>
    private static int MkdirThroughSignals(string path)
    {
        var errno = Fs.Mkdir(path);
        for (var retry = 0; errno == Fs.EINTR && retry < 5; retry++)
        {
            errno = Fs.Mkdir(path);
            if (errno == Fs.EEXIST) errno = 0;
        }
        return errno;
    }

    private static bool SaysHolderGone(NodeProcess node, NodeProcess holder) =>
        node.Daemon!.FindLine(l => l.Contains(HolderGoneLine, StringComparison.Ordinal) && l.Contains($"holder {holder.PeerId![..12]}", StringComparison.Ordinal)) is not null;

    /// <summary>
    /// kill -9 of the holder of an idle log: its kernel refuses connects to its port, a survivor reports the holder gone
    /// and campaigns on that evidence (instead of waiting out the stretched lease), a survivor's write then succeeds,
    /// nothing acknowledged is lost, and the restarted node converges. No node reported anyone gone before the kill.
    /// </summary>
    [Fact]
    public void A_killed_idle_holder_is_found_gone_by_a_survivor_which_campaigns_on_that_evidence()
    {
        var nodes = FormThree();
        var holder = WaitForHolder(nodes);
        var writer = nodes.First(n => n != holder);
        var acknowledged = Enumerable.Range(0, 10).Select(i => $"gone-{i}").ToList();
        foreach (var name in acknowledged) Assert.Equal(0, Fs.CreateExclusive(On(writer, name), "a"u8));
        SeenOn(nodes, "the idle lease", n => n.Status().GetProperty("quorum").GetString()!.Contains("log idle", StringComparison.Ordinal),
            within: TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(nodes, n => n.Daemon!.FindLine(l => l.Contains(HolderGoneLine, StringComparison.Ordinal)) is not null);

        holder.Kill9();
        var survivors = nodes.Where(n => n != holder).ToArray();
        Assert.Equal(0, MkdirThroughSignals(On(writer, "after-the-kill")));
        var reported = Poll.Until(() => survivors.Any(n => SaysHolderGone(n, holder)), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
        Check.True(reported is not null, () => $"no survivor reported the killed holder gone\n{_cluster.Diagnostics()}");
        Assert.NotEqual(holder, WaitForHolder(survivors));
        foreach (var node in survivors)
        {
            SeenOn([node], $"every file acknowledged before the kill on {node.Name}", n => acknowledged.All(name => File.Exists(On(n, name))) && Directory.Exists(On(n, "after-the-kill")));
        }

        holder.Start();
        AssertSameState(nodes);
    }

    /// <summary>
    /// The holder looks at its voters the same way: with both other voters killed, their ports refuse, and the holder of
    /// an idle log steps down on that evidence (it can commit nothing, and must not answer from a lease that voters fed
    /// the same refusals would no longer honour) instead of waiting out its stretched check-quorum. The voters restart,
    /// a holder is elected again and the states converge.
    /// </summary>
    [Fact]
    public void An_idle_holder_whose_other_voters_are_killed_steps_down_on_that_evidence()
    {
        var nodes = FormThree();
        var holder = WaitForHolder(nodes);
        Assert.Equal(0, Fs.CreateExclusive(On(holder, "before-the-kills"), "a"u8));
        SeenOn(nodes, "the idle lease", n => n.Status().GetProperty("quorum").GetString()!.Contains("log idle", StringComparison.Ordinal),
            within: TimeSpan.FromSeconds(20));

        var others = nodes.Where(n => n != holder).ToArray();
        foreach (var node in others) node.Kill9();
        var steppedDown = Poll.Until(() => holder.Daemon!.FindLine(l => l.Contains("stepping down in term", StringComparison.Ordinal)
            && l.Contains("is gone (its answers are late and a connect to its address was refused)", StringComparison.Ordinal)) is not null,
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
        Check.True(steppedDown is not null, () => $"the holder did not step down on the evidence\n{_cluster.Diagnostics()}");
        Assert.NotEqual("holder", holder.Status().GetProperty("role").GetString());

        foreach (var node in others) node.Start();
        WaitForHolder(nodes);
        Assert.Equal(0, MkdirThroughSignals(On(holder, "after-the-restarts")));
        AssertSameState(nodes);
    }

    /// <summary>
    /// A holder that is stopped (SIGSTOP: a long GC pause, a starved VM) sends no heartbeats, but its kernel still accepts
    /// connects on its port, so the survivors' probes find it there: nobody reports it gone, and they elect another only
    /// after its lease ends, as before. Once it runs again it learns the new term and the states converge.
    /// </summary>
    [Fact]
    public void A_stopped_idle_holder_is_not_reported_gone_because_its_port_still_answers()
    {
        var nodes = FormThree();
        var holder = WaitForHolder(nodes);
        var writer = nodes.First(n => n != holder);
        Assert.Equal(0, Fs.CreateExclusive(On(writer, "before-the-stop"), "a"u8));
        SeenOn(nodes, "the idle lease", n => n.Status().GetProperty("quorum").GetString()!.Contains("log idle", StringComparison.Ordinal),
            within: TimeSpan.FromSeconds(20));

        var survivors = nodes.Where(n => n != holder).ToArray();
        Assert.Equal(0, Signal.Send(holder.Daemon!.Pid, Signal.SIGSTOP));
        try
        {
            // The write waits for the stretched lease to end and a survivor to be elected.
            Assert.Equal(0, MkdirThroughSignals(On(writer, "while-stopped")));
            Assert.NotEqual(holder, WaitForHolder(survivors));
            Assert.DoesNotContain(survivors, n => SaysHolderGone(n, holder));
        }
        finally
        {
            Signal.Send(holder.Daemon!.Pid, Signal.SIGCONT);
        }
        AssertSameState(nodes);
    }
}
