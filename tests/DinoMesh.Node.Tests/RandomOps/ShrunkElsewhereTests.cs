using DinoMesh.Node.Tests.Cluster;

namespace DinoMesh.Node.Tests.RandomOps;

/// <summary>
/// Seed 400 on its own: a file a node wrote, truncated on another node, then read on the first with plain read(2)
/// calls (no stat first) after the truncate returned, must read as its new size (close-to-open). Before the fix, 12 and
/// 14 of 30 files read as 3,145,728 bytes (zeros past the new end): the writer's kernel kept the old, larger size (an
/// open only marked its cached attributes stale, and a read within that size does not refresh them), and of the
/// concurrent reads the one at 3 MiB answered 0 bytes first and set the size to 3 MiB, after which the short read that
/// would set 2,098,384 was dropped as older. Now the first open of a file changed elsewhere answers ESTALE, the VFS
/// looks the name up again (taking the new size from that answer) and retries the open (DinoFileSystem.NeedsFreshSize).
/// </summary>
public sealed class ShrunkElsewhereTests(ITestOutputHelper output)
{
    private const int Files = 30;

    [Fact]
    public void A_file_truncated_on_another_node_reads_to_its_new_end_on_the_node_that_wrote_it()
    {
        Requirement.RootAndFuse();
        using var cluster = new TestCluster(output);
        NodeProcess[] nodes = [cluster.Add("a", "127.0.0.11"), cluster.Add("b", "127.0.0.12"), cluster.Add("c", "127.0.0.13")];
        cluster.Form(nodes);
        var (truncater, writer) = (nodes[0], nodes[1]);
        var wrong = new List<string>();
        for (var i = 0; i < Files; i++)
        {
            var name = $"f{i}";
            var write = new RandomOp(OpKind.Write, name, Number: 1838402, Length: 2066630, DataSeed: i);
            Assert.Equal(0, OpRunner.Run(writer.MountPoint, write).Errno);
            // The truncater must see the write before it truncates (the rule RandomOpsRun relies on).
            AppliedVersion.WaitFor(truncater.DataDir, AppliedVersion.Of(writer.DataDir), TimeSpan.FromSeconds(15));
            Assert.Equal(0, Libc.Truncate(Path.Combine(truncater.MountPoint, name), 2098384));
            var read = OpRunner.Run(writer.MountPoint, new RandomOp(OpKind.Read, name));
            if (!read.Seen.StartsWith("2098384 B", StringComparison.Ordinal)) wrong.Add($"{name}: {read}");
        }
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {Files} files truncated to 2098384 B on {truncater.Name} read otherwise on {writer.Name}: {string.Join("; ", wrong.Take(5))}");
    }
}
