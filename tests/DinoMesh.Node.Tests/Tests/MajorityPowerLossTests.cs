using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// Two of three real dino-nodes come back with the disks they had earlier (what a power cut leaves of entries that no
/// fsync covered), while the third, which applied the later changes, is frozen until the two have elected a holder and
/// committed over them. The third is told it diverged, takes the holder's snapshot over its own state, and ends with
/// the same tree and state hash as the others: the lost names vanish from its mount too.
/// </summary>
public sealed class MajorityPowerLossTests : IDisposable
{
    private readonly TestCluster _cluster;

    public MajorityPowerLossTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output);
    }

    [Fact]
    public void A_node_that_applied_changes_a_majority_lost_takes_the_holders_state_and_converges()
    {
        var nodes = new[] { _cluster.Add("n1", "127.0.0.21"), _cluster.Add("n2", "127.0.0.22"), _cluster.Add("n3", "127.0.0.23") };
        _cluster.Form(nodes);
        _cluster.WaitForVoters(nodes, 3);
        var holder = _cluster.WaitForHolder(nodes);
        var survivor = nodes.First(n => n != holder);
        var victims = nodes.Where(n => n != survivor).ToArray();
        for (var i = 0; i < 5; i++) Create(On(holder, $"kept-{i}"));
        Assert.True(Poll.Until(() => victims.All(v => File.Exists(On(v, "kept-4"))), TimeSpan.FromSeconds(10)) is not null, "kept-4 did not reach both victims");

        // The victims' disks as a power cut could leave them: copied while the processes are frozen.
        var saved = victims.ToDictionary(v => v, v => v.DataDir + ".saved");
        foreach (var v in victims) Assert.Equal(0, Signal.Send(v.Daemon!.Pid, Signal.SIGSTOP));
        foreach (var v in victims) CopyTree(v.DataDir, saved[v]);
        foreach (var v in victims) Assert.Equal(0, Signal.Send(v.Daemon!.Pid, Signal.SIGCONT));
        _cluster.Log("kept-0..4 on both victims; their disks saved");

        for (var i = 0; i < 5; i++) Create(On(holder, $"lost-{i}"));
        Assert.True(Poll.Until(() => File.Exists(On(survivor, "lost-4")), TimeSpan.FromSeconds(10)) is not null, $"lost-4 did not reach {survivor.Name}");
        _cluster.Log($"lost-0..4 on {survivor.Name}");

        // The survivor freezes (it must not hand the lost entries back); the victims lose power and come back.
        Assert.Equal(0, Signal.Send(survivor.Daemon!.Pid, Signal.SIGSTOP));
        try
        {
            foreach (var v in victims) v.Kill9();
            foreach (var v in victims)
            {
                Directory.Delete(v.DataDir, recursive: true);
                Directory.Move(saved[v], v.DataDir);
            }
            foreach (var v in victims) v.Launch();
            foreach (var v in victims) v.WaitUntilUp();
            _cluster.Log("victims restarted on their saved disks");
            var newHolder = _cluster.WaitForHolder(victims);
            Check.True(Poll.Until(() => Fs.CreateExclusive(On(newHolder, "after"), "a"u8) is 0 or Fs.EEXIST, TimeSpan.FromSeconds(30)) is not null,
                () => $"no commit after the restart\n{_cluster.Diagnostics()}");
            Assert.False(File.Exists(On(newHolder, "lost-0")), "the restarted majority still has a change its disks never held");
            _cluster.Log($"committed on {newHolder.Name} after the restart");
        }
        finally
        {
            Signal.Send(survivor.Daemon!.Pid, Signal.SIGCONT);
        }

        Check.True(Poll.Until(() => File.Exists(On(survivor, "after")) && !File.Exists(On(survivor, "lost-0")), TimeSpan.FromSeconds(30)) is not null,
            () => $"{survivor.Name} did not take the holder's state\n{_cluster.Diagnostics()}");
        _cluster.Log($"{survivor.Name} took the holder's state");
        // The console logger writes on its own thread: the line can trail the state it announces by a moment.
        Check.True(Poll.Until(() => survivor.Daemon!.FindLine(l => l.Contains("taking its snapshot", StringComparison.Ordinal)) is not null, TimeSpan.FromSeconds(10)) is not null,
            () => $"{survivor.Name} converged without logging that it took the holder's snapshot\n{_cluster.Diagnostics()}");
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"kept-{i}").Append("after").Order(),
            Directory.GetFiles(survivor.MountPoint).Select(Path.GetFileName).Order());
        string[] hashes = [];
        Assert.True(Poll.Until(() =>
        {
            hashes = [.. Concurrently.Map(nodes, n => n.Cli("statehash").Stdout.Trim())];
            return hashes.Distinct().Count() == 1 && hashes[0].Length > 0;
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250)) is not null, $"state hashes differ: {string.Join(" | ", hashes)}");
    }

    /// <summary>
    /// Creates a file, again if a signal to this test process (a child CLI exiting) interrupted the call: an
    /// interrupted create may still have been committed, so EEXIST after EINTR counts as created.
    /// </summary>
    private static void Create(string path)
    {
        var errno = Fs.CreateExclusive(path, "x"u8);
        for (var retry = 0; errno == Fs.EINTR && retry < 5; retry++)
        {
            errno = Fs.CreateExclusive(path, "x"u8);
            if (errno == Fs.EEXIST) errno = 0;
        }
        Assert.True(errno == 0, $"create {path}: errno {errno}");
    }

    private static string On(NodeProcess node, string relative) => Path.Combine(node.MountPoint, relative);

    /// <summary>cp -a: a node holds an advisory lock on a file of its data directory, which .NET's copy would respect.</summary>
    private static void CopyTree(string from, string to)
    {
        using var cp = System.Diagnostics.Process.Start("cp", ["-a", "--no-preserve=links", from, to]);
        Assert.True(cp.WaitForExit(30_000) && cp.ExitCode == 0, $"cp -a {from} {to} failed");
    }

    public void Dispose() => _cluster.Dispose();
}
