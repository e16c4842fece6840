using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// A join is admitted in one step: the member it goes through commits the admission to the log and answers with its
/// version, and the newcomer presents that version to every member it dials, so a member whose log is behind waits
/// for the log instead of refusing. Here a member is frozen (SIGSTOP) while a newcomer joins through another, and let
/// go once the newcomer is up: the newcomer dials it (SWIM), the holder's log has moved on without it, and nobody,
/// newcomer included, may log a refusal of anyone as "not an admitted member" while every node comes to list every
/// other alive.
/// </summary>
public sealed class JoinAdmissionTests : IDisposable
{
    private readonly TestCluster _cluster;

    public JoinAdmissionTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.71.1", "127.0.71.2", "127.0.71.3", "127.0.71.4"]);
    }

    [Fact]
    public void A_newcomer_is_refused_by_no_member_although_one_member_is_behind_on_the_log()
    {
        var a = _cluster.Add("a", "127.0.71.1");
        var b = _cluster.Add("b", "127.0.71.2");
        var behind = _cluster.Add("c", "127.0.71.3");
        var newcomer = _cluster.Add("n", "127.0.71.4");
        var token = _cluster.Form(a, b, behind);
        var three = new[] { a, b, behind };
        _cluster.WaitForViews(three, v => TestCluster.AllAlive(v, three), TimeSpan.FromSeconds(60), "a, b and c list each other alive");
        _cluster.WaitForVoters(three, 3);

        Assert.Equal(0, Signal.Send(behind.Daemon!.Pid, Signal.SIGSTOP));
        try
        {
            newcomer.Launch(join: a.Endpoint, token: token);
            newcomer.WaitUntilUp();
            // Its first probes and syncs (c among its seeds) wait in c's backlog while the log moves on without c.
            Thread.Sleep(TimeSpan.FromSeconds(2));
        }
        finally
        {
            Assert.Equal(0, Signal.Send(behind.Daemon!.Pid, Signal.SIGCONT));
        }
        _cluster.Log("c let go");

        var all = new[] { a, b, behind, newcomer };
        _cluster.WaitForViews(all, v => TestCluster.AllAlive(v, all), TimeSpan.FromSeconds(90), "every node lists a, b, c and n alive");
        // Refusals are logged where they happen; a few more seconds for any late one of the join to show up.
        Thread.Sleep(TimeSpan.FromSeconds(2));

        foreach (var node in all)
        {
            var refusal = node.Daemon!.FindLine(l => l.Contains("not an admitted member", StringComparison.Ordinal));
            Assert.True(refusal is null, $"{node.Name} refused a peer: {refusal?.Text}");
        }
        // The join was answered with the version of its committed admission (what the newcomer presents).
        var joined = newcomer.Daemon!.FindLine(l => l.Contains("joined cluster", StringComparison.Ordinal));
        Assert.NotNull(joined);
        Assert.Matches(@"admitted at version [1-9]\d*", joined.Text);
    }

    public void Dispose() => _cluster.Dispose();
}
