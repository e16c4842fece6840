using System.Security.Cryptography;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// Nodes started with chunk sizes other than the 1 MiB default (`DINOMESH_CHUNK_SIZE`, a hidden setting for benchmarks
/// and tests), side by side with a default node. A node cuts what it writes at its own size, but every extent carries
/// its own chunk, offset and length, so a node reads (and fetches, and shares by copy_file_range) chunks of any size up
/// to the 4 MiB a chunk message carries. Extents are counted with `status --json` (all files of the shared tree): a
/// file written whole in order has one extent per chunk.
/// </summary>
public sealed class ChunkSizeTests : IDisposable
{
    private const int KiB = 1024, MiB = 1 << 20;
    private const int Large = 4 * MiB, Small = 256 * KiB;
    private static readonly TimeSpan Visible = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CatchUp = TimeSpan.FromSeconds(90);

    private readonly TestCluster _cluster;

    public ChunkSizeTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _cluster = new TestCluster(output, hostsToCheck: ["127.0.0.61", "127.0.0.62", "127.0.0.63"]);
    }

    public void Dispose() => _cluster.Dispose();

    /// <summary>Founds a cluster (--replicas 2) on the first node, each node with its chunk size (null: the default).</summary>
    private NodeProcess[] Form(params int?[] chunkSizes)
    {
        string[] options = ["--replicas", "2"];
        var nodes = chunkSizes.Select((_, i) => _cluster.Add(((char)('a' + i)).ToString(), $"127.0.0.{61 + i}")).ToArray();
        nodes[0].Launch(env: Env(chunkSizes[0]), extra: options);
        nodes[0].WaitUntilUp();
        var token = nodes[0].PrintedToken();
        for (var i = 1; i < nodes.Length; i++) nodes[i].Launch(join: nodes[0].Endpoint, token: token, env: Env(chunkSizes[i]), extra: options);
        foreach (var n in nodes.Skip(1)) n.WaitUntilUp();
        _cluster.WaitForViews(nodes, v => TestCluster.AllAlive(v, nodes), TimeSpan.FromSeconds(30), "every node sees every other alive");
        return nodes;

        static Dictionary<string, string?>? Env(int? size) => size is { } s ? new() { ["DINOMESH_CHUNK_SIZE"] = $"{s}" } : null;
    }

    private static long Extents(NodeProcess node) => node.Status().GetProperty("extents").GetInt64();

    /// <summary>Polls <paramref name="node"/>'s extent count until it is <paramref name="expected"/>; fails with the last count.</summary>
    private void ExpectExtents(NodeProcess node, long expected, TimeSpan within, string what)
    {
        long last = -1;
        var reached = Poll.Until(() => (last = Extents(node)) == expected, within, TimeSpan.FromMilliseconds(250));
        Check.True(reached is not null, () => $"{what}: {last} extents on {node.Name}, expected {expected}\n{_cluster.Diagnostics()}");
    }

    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Writes in 1 MiB writes (what dd bs=1M and the kernel's max_write give the node), then closes.</summary>
    private static void Write(string path, byte[] bytes)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
        for (var at = 0; at < bytes.Length; at += MiB) file.Write(bytes, at, Math.Min(MiB, bytes.Length - at));
    }

    /// <summary>The file on <paramref name="node"/> reads <paramref name="expected"/>, once it has their size there, from the node and not the page cache.</summary>
    private static void ExpectContent(NodeProcess node, string name, byte[] expected)
    {
        var path = Path.Combine(node.MountPoint, name);
        Assert.True(Poll.Until(() => File.Exists(path) && new FileInfo(path).Length == expected.Length, Visible) is not null,
            $"{name} did not reach {expected.Length} bytes on {node.Name} within {Visible.TotalSeconds} s");
        Fs.DropCache(path);
        var read = File.ReadAllBytes(path);
        Assert.True(read.AsSpan().SequenceEqual(expected), $"{name} on {node.Name} differs from what was written (SHA-256 {Convert.ToHexString(SHA256.HashData(read))[..16]})");
    }

    [Fact]
    public void Each_node_cuts_files_at_its_own_chunk_size_and_every_node_reads_the_others_chunks()
    {
        var n = Form(Large, null, Small);
        int[] sizes = [Large, MiB, Small];
        var files = new List<(string Name, byte[] Bytes)>();
        for (var w = 0; w < n.Length; w++)
        {
            var name = $"from-{n[w].Name}";
            var bytes = Random(12 * MiB, w + 1);
            var before = Extents(n[w]);
            Write(Path.Combine(n[w].MountPoint, name), bytes);
            // 3 chunks of 4 MiB on a, 12 of 1 MiB on b, 48 of 256 KiB on c.
            ExpectExtents(n[w], before + bytes.Length / sizes[w], TimeSpan.FromSeconds(10), $"{name} written in order");
            files.Add((name, bytes));
        }
        foreach (var (name, bytes) in files)
        {
            foreach (var node in n) ExpectContent(node, name, bytes);
        }

        // The 256 KiB node writes across the 4 MiB node's chunk boundary, and the 4 MiB node across the small node's:
        // each cuts its own piece at its own grid, into extents that split the other's chunks.
        var patch = Random(100 * KiB, 7);
        var (largeName, largeBytes) = files[0];
        Overwrite(Path.Combine(n[2].MountPoint, largeName), Large - 50 * KiB, patch);
        patch.CopyTo(largeBytes, Large - 50 * KiB);
        var (smallName, smallBytes) = files[2];
        Overwrite(Path.Combine(n[0].MountPoint, smallName), 3 * Small - 10 * KiB, patch);
        patch.CopyTo(smallBytes, 3 * Small - 10 * KiB);
        foreach (var node in n)
        {
            Assert.True(Poll.Until(() => Matches(node, largeName, largeBytes) && Matches(node, smallName, smallBytes), Visible) is not null,
                $"the overwrites across another node's chunk boundary do not read back on {node.Name}");
        }

        static void Overwrite(string path, long offset, byte[] bytes)
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
            file.Position = offset;
            file.Write(bytes);
        }

        static bool Matches(NodeProcess node, string name, byte[] expected)
        {
            var path = Path.Combine(node.MountPoint, name);
            Fs.DropCache(path);
            return File.ReadAllBytes(path).AsSpan().SequenceEqual(expected);
        }
    }

    /// <summary>
    /// The compactor works on blocks of the node's chunk size: 4 MiB appended in 8 KiB pieces, each fsynced (an extent
    /// each), become one 4 MiB chunk once the block is full and the file quiet (1 MiB blocks would leave four). The
    /// compacted chunk is the largest a chunk message carries, and reaches the other node (R = 2) whole.
    /// </summary>
    [Fact]
    public void A_node_with_4_MiB_chunks_compacts_a_full_block_into_one_chunk_that_reads_back_everywhere()
    {
        var n = Form(Large, null);
        var bytes = Random(Large, 3);
        var path = Path.Combine(n[0].MountPoint, "appended");
        var before = Extents(n[0]);
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
        {
            for (var at = 0; at < bytes.Length; at += 8 * KiB)
            {
                file.Write(bytes, at, 8 * KiB);
                file.Flush(flushToDisk: true);
            }
        }
        ExpectExtents(n[0], before + 1, CatchUp, "a full 4 MiB block of fsynced appends once compacted");
        foreach (var node in n) ExpectContent(node, "appended", bytes);
    }

    /// <summary>
    /// copy_file_range shares chunks when source and target lie at the same place in the node's own chunk grid: on the
    /// 4 MiB node a shift of 4 MiB shares the three chunks, a shift of 1 MiB copies the bytes and cuts them at 4 MiB
    /// (1 MiB would have shared). The default node shares the 4 MiB chunks at a 1 MiB shift, and its copy (extents that
    /// cross its own grid) reads back on both, also after it writes into the middle of a shared 4 MiB chunk.
    /// </summary>
    [Fact]
    public void Copy_file_range_shares_chunks_at_the_nodes_own_grid_and_copies_of_larger_chunks_read_back()
    {
        var n = Form(Large, null);
        var (large, normal) = (n[0], n[1]);
        var source = Random(12 * MiB, 5);
        Write(Path.Combine(large.MountPoint, "source"), source);
        ExpectContent(normal, "source", source);

        var extents = Extents(large);
        Assert.Equal(0, Copy(large, "source", "shared", 4 * MiB));
        ExpectExtents(large, extents + 3, TimeSpan.FromSeconds(10), "copied at a 4 MiB shift (shared)");
        var expectedShared = new byte[16 * MiB];
        source.CopyTo(expectedShared, 4 * MiB);

        extents = Extents(large);
        Assert.Equal(0, Copy(large, "source", "recut", MiB));
        // [1, 4) MiB, two whole blocks, [12, 13) MiB: four extents of this node's grid.
        ExpectExtents(large, extents + 4, TimeSpan.FromSeconds(10), "copied at a 1 MiB shift (bytes, recut at 4 MiB)");
        var expectedRecut = new byte[13 * MiB];
        source.CopyTo(expectedRecut, MiB);

        extents = Extents(normal);
        Assert.Equal(0, Copy(normal, "source", "on-normal", MiB));
        ExpectExtents(normal, extents + 3, TimeSpan.FromSeconds(10), "copied on the 1 MiB node at a 1 MiB shift (the 4 MiB chunks shared)");
        var patch = Random(64 * KiB, 6);
        using (var file = new FileStream(Path.Combine(normal.MountPoint, "on-normal"), FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1))
        {
            file.Position = 6 * MiB + 4321;
            file.Write(patch);
        }
        var expectedOnNormal = new byte[13 * MiB];
        source.CopyTo(expectedOnNormal, MiB);
        patch.CopyTo(expectedOnNormal, 6 * MiB + 4321);

        foreach (var node in n)
        {
            ExpectContent(node, "shared", expectedShared);
            ExpectContent(node, "recut", expectedRecut);
            ExpectContent(node, "on-normal", expectedOnNormal);
        }

        static int Copy(NodeProcess node, string from, string to, long offsetOut)
        {
            File.WriteAllBytes(Path.Combine(node.MountPoint, to), []);
            return Fs.CopyFileRange(Path.Combine(node.MountPoint, from), 0, Path.Combine(node.MountPoint, to), offsetOut, 12 * MiB);
        }
    }
}
