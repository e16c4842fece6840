using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// Memory is given back once the log has gone quiet: one aggressive collection after two idle looks in a row, and not
/// again within five minutes however the log alternates between busy and idle. The looks come every second here
/// (DINOMESH_TRIM_CHECK_SECONDS=1) instead of every 30 s.
/// </summary>
public sealed class IdleMemoryTrimTests : IDisposable
{
    private const string Trimmed = "log idle: trimmed memory";
    private readonly TestCluster _cluster;

    public IdleMemoryTrimTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.54"]);
    }

    [Fact]
    public void A_quiet_log_trims_memory_once_and_not_again_after_a_busy_spell_within_five_minutes()
    {
        var node = _cluster.Add("trim", "127.0.0.54");
        node.Start(env: new Dictionary<string, string?> { ["DINOMESH_TRIM_CHECK_SECONDS"] = "1" });
        for (var i = 0; i < 200; i++) File.WriteAllText(Path.Combine(node.MountPoint, $"f{i}"), new string('x', 5000));

        var first = Poll.Until(() => Count(node) >= 1, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));
        Check.True(first is not null, () => $"no trim within 30 s of a quiet log\n{_cluster.Diagnostics()}");
        var line = node.Daemon!.FindLine(l => l.Contains(Trimmed, StringComparison.Ordinal));
        _cluster.Log(line!.Text);
        Assert.Matches(@"RSS \d+\.\d -> \d+\.\d MiB in \d+\.\d ms", line.Text);

        // Busy again, then quiet again for many looks: the five minutes since the first trim are not over.
        for (var i = 0; i < 200; i++) File.WriteAllText(Path.Combine(node.MountPoint, $"g{i}"), new string('y', 5000));
        Thread.Sleep(TimeSpan.FromSeconds(8));
        Assert.Equal(1, Count(node));
    }

    private static int Count(NodeProcess node) => node.Daemon!.Lines.Count(l => l.Text.Contains(Trimmed, StringComparison.Ordinal));

    public void Dispose() => _cluster.Dispose();
}
