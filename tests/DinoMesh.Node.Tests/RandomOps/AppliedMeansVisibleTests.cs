using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.RandomOps;

/// <summary>
/// The rule <see cref="RandomOpsRun"/> relies on, on its own: once a node's <c>status</c> says it has applied a
/// version, every change up to it is visible through that node's mount (docs/protocol.md, "Consistency rules", "other
/// nodes"). Seed 59 found it broken once: a name the reader had just missed (its kernel caching the miss) and another
/// node then created was still missing there after the reader reported the create's version applied; the kernel is
/// told to forget the miss by a task of its own, after the version is published. Here the reader is stopped while
/// the creates commit, so that it applies them all in one go and its invalidations queue up behind the published
/// version.
/// </summary>
public sealed class AppliedMeansVisibleTests(ITestOutputHelper output)
{
    private const int Names = 100;
    private const int Rounds = 5;

    [Fact]
    public void Names_missed_on_a_node_are_found_there_once_its_status_says_their_creates_are_applied()
    {
        Requirement.RootAndFuse();
        using var cluster = new TestCluster(output);
        NodeProcess[] nodes = [cluster.Add("a", "127.0.0.11"), cluster.Add("b", "127.0.0.12"), cluster.Add("c", "127.0.0.13")];
        cluster.Form(nodes);
        // Stopping the reader must leave a majority that commits: all three vote first.
        cluster.WaitForVoters(nodes, 3);
        var holder = cluster.WaitForHolder(nodes);
        var others = nodes.Where(n => n != holder).ToList();
        var (reader, writer) = (others[0], others[1]);
        var missing = new List<string>();
        for (var round = 0; round < Rounds; round++)
        {
            var dir = $"round{round}";
            Assert.Equal(0, Libc.Mkdir(Path.Combine(writer.MountPoint, dir), 0x1ED));
            AppliedVersion.WaitFor(reader.DataDir, AppliedVersion.Of(writer.DataDir), TimeSpan.FromSeconds(15));
            // The reader's kernel caches each miss (a negative entry, 5 s): only the invalidation the create sends
            // when the reader applies it makes the name appear before that.
            for (var i = 0; i < Names; i++) Assert.Equal(Libc.ENOENT, Libc.Stat(Path.Combine(reader.MountPoint, dir, $"n{i}"), follow: false, out _));
            Assert.Equal(0, Signal.Send(reader.Daemon!.Pid, Signal.SIGSTOP));
            try
            {
                Concurrently.For(8, Names, i => Assert.Equal(0, Fs.CreateExclusive(Path.Combine(writer.MountPoint, dir, $"n{i}"), [])));
            }
            finally
            {
                Signal.Send(reader.Daemon!.Pid, Signal.SIGCONT);
            }
            var version = AppliedVersion.Of(writer.DataDir);
            var reached = AppliedVersion.WaitFor(reader.DataDir, version, TimeSpan.FromSeconds(15));
            Assert.True(reached >= version, $"{reader.Name} applied only {reached} of {version}");
            for (var i = Names - 1; i >= 0; i--)
            {
                if (Libc.Stat(Path.Combine(reader.MountPoint, dir, $"n{i}"), follow: false, out _) != 0) missing.Add($"{dir}/n{i}");
            }
        }
        Assert.True(missing.Count == 0, $"{missing.Count} of {Rounds * Names} names created on {writer.Name} were missing on {reader.Name} after its status said it had applied them: {string.Join(", ", missing.Take(10))}");
    }
}
