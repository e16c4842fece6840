using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// File contents across real dino-node processes (issue 10): fetch from peers, R = 2 copies before a close returns,
/// kill -9, repair of a corrupt chunk and of a lost node, space given back after the collection grace period. Each
/// starts by checking that the tree is shared (a file made on one node appears on another), so a failure there is
/// told apart from a failure of the chunk layer. The transfers that only add files of their own share one cluster
/// (<see cref="ClassCluster"/>, run first); the tests that kill a node, corrupt a chunk file or count every stored byte
/// form their own.
/// </summary>
[TestCaseOrderer(typeof(SharedClusterFirst))]
public sealed class ChunkClusterTests : IClassFixture<ClassCluster>, IDisposable
{
    private static readonly TimeSpan Visible = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Size of the big transfers: 256 MiB by default, so the suite stays inside its time on two cores (a 256 MiB file
    /// is 256 chunks of 1 MiB, each fetched, verified and imported like any other); DINOMESH_CHUNK_TEST_MIB=1024 runs the GiB.
    /// </summary>
    private static readonly int BigMib = int.TryParse(Environment.GetEnvironmentVariable("DINOMESH_CHUNK_TEST_MIB"), out var mib) ? mib : 256;

    private readonly ITestOutputHelper _output;
    private readonly ClassCluster _shared;
    private bool _usedShared;

    public ChunkClusterTests(ClassCluster shared, ITestOutputHelper output)
    {
        _shared = shared;
        _output = output;
    }

    /// <summary>Founds a cluster on the first node and joins the others, all with the chunk options of these tests.</summary>
    private static void Form(TestCluster cluster, params NodeProcess[] nodes) => Form(cluster, Grace, nodes);

    private static void Form(TestCluster cluster, TimeSpan grace, params NodeProcess[] nodes)
    {
        string[] chunkOptions = ["--replicas", "2", "--gc-grace", $"{grace.TotalSeconds}s"];
        nodes[0].Launch(extra: chunkOptions);
        nodes[0].WaitUntilUp();
        var token = nodes[0].PrintedToken();
        foreach (var n in nodes.Skip(1)) n.Launch(join: nodes[0].Endpoint, token: token, extra: chunkOptions);
        foreach (var n in nodes.Skip(1)) n.WaitUntilUp();
        cluster.WaitForViews(nodes, v => TestCluster.AllAlive(v, nodes), TimeSpan.FromSeconds(30), "every node sees every other alive");
        // Killing a node must leave a majority of voters: not so while only two of three vote.
        if (nodes.Length >= 3) cluster.WaitForVoters(nodes, 3);
    }

    /// <summary>Fails first, with its own message, when a file made on one node never shows up on another.</summary>
    private static void RequireSharedTree(NodeProcess writer, NodeProcess reader)
    {
        var probe = $"shared-tree-probe-{Guid.NewGuid():N}";
        File.WriteAllText(Path.Combine(writer.MountPoint, probe), "probe");
        if (Poll.Until(() => File.Exists(Path.Combine(reader.MountPoint, probe)), Visible) is null)
        {
            Assert.Fail($"the tree is not shared: a file created on {writer.Name} is not visible on {reader.Name} within {Visible.TotalSeconds:F0} s");
        }
        File.Delete(Path.Combine(writer.MountPoint, probe));
    }

    /// <summary>A cluster of this test's own (the shared one is killed first, so its idle nodes do not load the machine).</summary>
    private (TestCluster Cluster, NodeProcess[] Nodes) Start(ITestOutputHelper output, int count, TimeSpan? grace = null)
    {
        Requirement.RootAndFuse();
        _shared.Release();
        var cluster = new TestCluster(output);
        try
        {
            var nodes = Enumerable.Range(0, count).Select(i => cluster.Add(((char)('a' + i)).ToString(), $"127.0.0.{11 + i}")).ToArray();
            Form(cluster, grace ?? Grace, nodes);
            RequireSharedTree(nodes[0], nodes[1]);
            return (cluster, nodes);
        }
        catch
        {
            // A skip is an exception too: the nodes must not outlive it.
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>The class's shared three-node cluster (formed on first use), checked to share its tree like <see cref="Start"/>.</summary>
    private (TestCluster Cluster, NodeProcess[] Nodes) Shared()
    {
        Requirement.RootAndFuse();
        _usedShared = true;
        var (cluster, nodes) = _shared.Get(c =>
        {
            var three = Enumerable.Range(0, 3).Select(i => c.Add(((char)('a' + i)).ToString(), $"127.0.0.{11 + i}")).ToArray();
            Form(c, three);
            return three;
        });
        RequireSharedTree(nodes[0], nodes[1]);
        return (cluster, nodes);
    }

    private static string WriteRandom(string path, long mib, int seed)
    {
        var random = new Random(seed);
        var buffer = new byte[1 << 20];
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            for (var i = 0; i < mib; i++)
            {
                random.NextBytes(buffer);
                file.Write(buffer);
                sha.AppendData(buffer);
            }
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    private static string Sha256Of(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexString(SHA256.HashData(file));
    }

    /// <summary>Waits until <paramref name="path"/> (on another node) has the size the writer gave it: the commit has reached that node.</summary>
    private static void WaitForSize(string path, long bytes)
    {
        Assert.True(Poll.Until(() => File.Exists(path) && new FileInfo(path).Length == bytes, TimeSpan.FromSeconds(30)) is not null,
            $"{path} did not reach {bytes} bytes within 30 s (has {(File.Exists(path) ? new FileInfo(path).Length : -1)})");
    }

    private static JsonElement Chunks(NodeProcess node) => node.Status().GetProperty("chunks");

    [Fact]
    [SharedCluster]
    public void A_big_file_written_on_A_reads_back_on_B_and_C_with_the_same_SHA256()
    {
        var (cluster, n) = Shared();
        var sha = WriteRandom(Path.Combine(n[0].MountPoint, "big"), BigMib, 1);
        cluster.Log($"wrote {BigMib} MiB on a");

        // b and c read at the same time (each read is its own, from its own mount).
        Concurrently.Map(n[1..], reader =>
        {
            WaitForSize(Path.Combine(reader.MountPoint, "big"), (long)BigMib << 20);
            Assert.Equal(sha, Sha256Of(Path.Combine(reader.MountPoint, "big")));
            cluster.Log($"read back on {reader.Name}");
            return reader;
        });
    }

    [Fact]
    [SharedCluster]
    public void Peers_shows_what_every_member_stores_asked_when_someone_looks()
    {
        var (cluster, n) = Shared();
        WriteRandom(Path.Combine(n[0].MountPoint, "stored"), 8, 3);

        // No member is polled on a clock: `peers` asks them (at most once per 10 s) and shows the answers it has.
        IReadOnlyList<PeerEntry> rows = [];
        var shown = Poll.Until(() =>
        {
            rows = n[2].Peers();
            return rows.Count == 3 && rows.All(r => r.StoredBytes is not null) && rows.Sum(r => r.StoredBytes!.Value) >= 2 * (8L << 20);
        }, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        cluster.Log("peers on c: " + string.Join(", ", rows.Select(r => $"{r.Address} {r.StoredBytes}")));

        // R = 2 over three nodes: the two new 4 MiB chunks (and whatever earlier tests wrote) sit on at least two of them.
        Assert.True(shown is not null, $"peers did not show what every member stores within 30 s: {string.Join(", ", rows.Select(r => $"{r.Address} {r.StoredBytes}"))}");
    }

    [Fact]
    [SharedCluster]
    public void Ten_thousand_small_files_written_on_A_are_readable_on_C()
    {
        var (cluster, n) = Shared();
        var dir = Path.Combine(n[0].MountPoint, "small");
        Directory.CreateDirectory(dir);
        // Eight writers on a and eight readers on c: each file is still one create, write and close on a (and one read
        // on c), but the round trips of several overlap instead of running one after another.
        Concurrently.For(8, 10_000, i => File.WriteAllBytes(Path.Combine(dir, $"f{i}"), Content(i)));
        cluster.Log("10,000 files written on a");

        var there = Path.Combine(n[2].MountPoint, "small");
        Assert.True(Poll.Until(() => Directory.Exists(there) && Directory.EnumerateFiles(there).Count() == 10_000, TimeSpan.FromSeconds(60)) is not null);
        cluster.Log("10,000 files listed on c");
        var wrong = new ConcurrentBag<int>();
        Concurrently.For(8, 10_000, i =>
        {
            if (!File.ReadAllBytes(Path.Combine(there, $"f{i}")).AsSpan().SequenceEqual(Content(i))) wrong.Add(i);
        });
        Assert.True(wrong.IsEmpty, $"{wrong.Count} of 10,000 files read on c differ from what a wrote, e.g. f{string.Join(", f", wrong.Order().Take(5))}");

        static byte[] Content(int i)
        {
            var bytes = new byte[1000 + i % 9000];
            new Random(i).NextBytes(bytes);
            return bytes;
        }
    }

    [Fact]
    [SharedCluster]
    public async Task Writers_on_disjoint_ranges_of_one_file_on_two_nodes_both_survive()
    {
        var (_, n) = Shared();
        const int half = 8 << 20;
        var path = Path.Combine(n[0].MountPoint, "shared");
        File.WriteAllBytes(path, new byte[2 * half]);
        Assert.True(Poll.Until(() => File.Exists(Path.Combine(n[1].MountPoint, "shared")), Visible) is not null);
        var first = new byte[half];
        var second = new byte[half];
        new Random(1).NextBytes(first);
        new Random(2).NextBytes(second);
        var a = Task.Run(() => WriteAt(path, 0, first));
        var b = Task.Run(() => WriteAt(Path.Combine(n[1].MountPoint, "shared"), half, second));
        await Task.WhenAll(a, b);

        var expected = Convert.ToHexString(SHA256.HashData([.. first, .. second]));
        Assert.True(Poll.Until(() => Sha256Of(Path.Combine(n[2].MountPoint, "shared")) == expected, TimeSpan.FromSeconds(10)) is not null,
            "c does not read both halves");

        static void WriteAt(string file, long offset, byte[] bytes)
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Write);
            stream.Position = offset;
            stream.Write(bytes);
        }
    }

    /// <summary>
    /// Two nodes fill the two halves of one 1 MiB block in 8 KiB pieces, each with an fsync (so each is an extent of its
    /// own), at the same time: the block crosses the compaction threshold while both keep writing, so each node's
    /// compactor merges runs the other may be writing next to. A compaction is conditional on the exact extents it
    /// read: whatever the interleaving, both halves are on every node afterwards, and the compacted file reads back on
    /// the node that did not write it.
    /// </summary>
    [Fact]
    [SharedCluster]
    public async Task Compaction_on_one_node_keeps_a_disjoint_write_from_another_in_the_same_block()
    {
        var (_, n) = Shared();
        const int half = 512 << 10, piece = 8 << 10;
        var onA = Path.Combine(n[0].MountPoint, "compacted");
        var onB = Path.Combine(n[1].MountPoint, "compacted");
        File.WriteAllBytes(onA, []);
        Assert.True(Poll.Until(() => File.Exists(onB), Visible) is not null);
        var before = n.Sum(Compactions);
        var first = new byte[half];
        var second = new byte[half];
        new Random(11).NextBytes(first);
        new Random(12).NextBytes(second);
        var a = Task.Run(() => WritePiecesWithFsync(onA, 0, first, piece));
        var b = Task.Run(() => WritePiecesWithFsync(onB, half, second, piece));
        await Task.WhenAll(a, b);

        // The compactors ran (this is what the test is about), then every node reads both halves.
        Assert.True(Poll.Until(() => n.Sum(Compactions) > before, TimeSpan.FromSeconds(30)) is not null, "no node compacted the block");
        var expected = Convert.ToHexString(SHA256.HashData([.. first, .. second]));
        foreach (var node in n)
        {
            var path = Path.Combine(node.MountPoint, "compacted");
            Assert.True(Poll.Until(() => Sha256Of(path) == expected, TimeSpan.FromSeconds(15)) is not null,
                $"{node.Name} does not read both halves after compaction");
        }

        static void WritePiecesWithFsync(string file, long offset, byte[] bytes, int piece)
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
            for (var at = 0; at < bytes.Length; at += piece)
            {
                stream.Position = offset + at;
                stream.Write(bytes, at, piece);
                stream.Flush(flushToDisk: true);
            }
        }
    }

    /// <summary>Runs a node's compactor committed or lost to a concurrent write (its status), since it started.</summary>
    private static long Compactions(NodeProcess node) =>
        node.Status().TryGetProperty("compaction", out var c) && c.ValueKind == JsonValueKind.Object
            ? c.GetProperty("compacted").GetInt64() + c.GetProperty("raced").GetInt64()
            : 0;

    [Fact]
    public void Kill9_of_the_writer_right_after_close_or_fsync_loses_nothing_it_acknowledged()
    {
        var (cluster, n) = Start(_output, 3);
        using var _ = cluster;
        cluster.Log("formed");
        var closed = WriteRandom(Path.Combine(n[0].MountPoint, "closed"), 256, 2);
        cluster.Log("closed 256 MiB on a");
        string synced;
        var syncedPath = Path.Combine(n[0].MountPoint, "synced");
        using (var file = new FileStream(syncedPath, FileMode.CreateNew, FileAccess.Write))
        {
            var bytes = new byte[64 << 20];
            new Random(3).NextBytes(bytes);
            file.Write(bytes);
            file.Flush(flushToDisk: true);
            synced = Convert.ToHexString(SHA256.HashData(bytes));
        }
        n[0].Kill9();
        // After fsync the writer's disk is not needed at all.
        Directory.Delete(n[0].DataDir, recursive: true);
        cluster.Log("killed a and deleted its data directory");

        Concurrently.Map(n[1..], reader =>
        {
            WaitForSize(Path.Combine(reader.MountPoint, "closed"), 256 << 20);
            WaitForSize(Path.Combine(reader.MountPoint, "synced"), 64 << 20);
            Assert.Equal(closed, Sha256Of(Path.Combine(reader.MountPoint, "closed")));
            Assert.Equal(synced, Sha256Of(Path.Combine(reader.MountPoint, "synced")));
            cluster.Log($"read both back on {reader.Name}");
            return reader;
        });
    }

    [Fact]
    public void With_R_2_each_chunk_is_pushed_once_and_after_a_kill9_of_the_writer_the_one_other_copy_serves_every_byte()
    {
        // A writer keeps the copies peers confirmed on record for half the grace at most, and a commit that finds a
        // record expired pushes the chunk again (answered "already present", counted all the same): a grace of 2 min
        // keeps the whole write on record, so that `pushed` counts the copies the placement rule asks for.
        var (cluster, n) = Start(_output, 3, TimeSpan.FromMinutes(2));
        using var _ = cluster;
        var sha = WriteRandom(Path.Combine(n[0].MountPoint, "once"), 64, 6);
        // The writer's own copy is one of the two: one push per chunk, whichever members rendezvous places it on.
        // (The held counts are memoised for a second: polled until they include the file.)
        long held = 0, pushed = 0;
        Poll.Until(() =>
        {
            var chunks = Chunks(n[0]);
            held = chunks.GetProperty("placementChunks").GetInt64() + chunks.GetProperty("cachedChunks").GetInt64();
            pushed = chunks.GetProperty("pushed").GetInt64();
            return held > 0 && held == pushed;
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(250));
        cluster.Log($"a holds {held} chunks and pushed {pushed}");
        Assert.True(held > 0, "a holds no chunk of the file it wrote");
        Assert.Equal(held, pushed);
        n[0].Kill9();
        Directory.Delete(n[0].DataDir, recursive: true);
        cluster.Log("killed a right after close and deleted its data directory");

        Concurrently.Map(n[1..], reader =>
        {
            WaitForSize(Path.Combine(reader.MountPoint, "once"), 64 << 20);
            Assert.Equal(sha, Sha256Of(Path.Combine(reader.MountPoint, "once")));
            return reader;
        });
    }

    [Fact]
    public void A_corrupted_chunk_file_is_detected_on_read_repaired_from_a_peer_and_the_read_returns_the_right_bytes()
    {
        var (cluster, n) = Start(_output, 3);
        using var _ = cluster;
        var sha = WriteRandom(Path.Combine(n[0].MountPoint, "f"), 64, 4);
        var b = n[1];
        // A chunk b holds as a placement node (pushed to it, never read through it yet).
        var chunkFile = Directory.EnumerateFiles(Path.Combine(b.DataDir, "chunks"), "*", SearchOption.AllDirectories)
            .First(f => !f.Contains("quarantine", StringComparison.Ordinal) && new FileInfo(f).Length == 1 << 20);
        using (var stream = new FileStream(chunkFile, FileMode.Open, FileAccess.Write))
        {
            stream.Position = 12345;
            stream.WriteByte(0xEE);
            stream.WriteByte(0x11);
        }

        WaitForSize(Path.Combine(b.MountPoint, "f"), 64 << 20);
        Assert.Equal(sha, Sha256Of(Path.Combine(b.MountPoint, "f")));
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(b.DataDir, "chunks", "quarantine")));
        Assert.Equal(Path.GetFileName(chunkFile), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(chunkFile))));
    }

    [Fact]
    public void Deleting_files_gives_the_space_back_on_every_node_after_the_grace_period()
    {
        var (cluster, n) = Start(_output, 3);
        using var _ = cluster;
        var files = Enumerable.Range(0, 4).Select(i => Path.Combine(n[0].MountPoint, $"d{i}")).ToList();
        cluster.Log("formed");
        Concurrently.For(files.Count, files.Count, i => WriteRandom(files[i], BigMib / 4, 10 + i));
        cluster.Log($"wrote {files.Count} x {BigMib / 4} MiB on a");
        // Every node reads everything, so every node holds (placement or cache) every chunk (b and c at the same time).
        Concurrently.Map(n[1..], reader =>
        {
            foreach (var f in files)
            {
                WaitForSize(Path.Combine(reader.MountPoint, Path.GetFileName(f)), (long)(BigMib / 4) << 20);
                Sha256Of(Path.Combine(reader.MountPoint, Path.GetFileName(f)));
            }
            return reader;
        });
        var before = n.Select(StoredBytes).ToList();
        cluster.Log($"stored before delete: {string.Join(", ", before)}");
        Assert.All(before, b => Assert.True(b >= (long)BigMib / 2 << 20, $"only {b} bytes stored"));

        foreach (var f in files) File.Delete(f);
        var took = Poll.Until(() => n.All(node => StoredBytes(node) < 1 << 20), Grace + TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        Check.True(took is not null, () => $"space not given back: {string.Join(", ", n.Select(StoredBytes))}");
        cluster.Log($"space back on every node {took!.Value.TotalSeconds:F1} s after the delete (grace {Grace.TotalSeconds} s)");

        // Collection deletes chunk files while this counts: a file gone between the listing and its stat counts as freed.
        static long StoredBytes(NodeProcess node) => Directory.EnumerateFiles(Path.Combine(node.DataDir, "chunks"), "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("quarantine", StringComparison.Ordinal)).Sum(LengthIfThere);

        static long LengthIfThere(string file)
        {
            try
            {
                return new FileInfo(file).Length;
            }
            catch (FileNotFoundException)
            {
                return 0;
            }
        }
    }

    [Fact]
    public void A_node_killed_for_good_is_replaced_and_every_chunk_is_back_at_two_copies()
    {
        var (cluster, n) = Start(_output, 3);
        using var _ = cluster;
        var sha = WriteRandom(Path.Combine(n[0].MountPoint, "f"), 256, 5);
        var victim = n[2];
        victim.Kill9();
        cluster.Log("killed c for good");
        var survivors = n.Take(2).ToArray();
        cluster.WaitForViews(survivors, v => v.Any(p => p.Id == victim.PeerId && p.State == "dead"), TimeSpan.FromSeconds(30), "c is dead");

        // Two live members and R = 2: each survivor must end up holding every chunk for placement.
        var took = Poll.Until(() => survivors.All(s =>
        {
            var chunks = Chunks(s);
            return chunks.GetProperty("missing").GetInt64() == 0 && chunks.GetProperty("repairQueue").GetInt32() == 0
                && chunks.GetProperty("placementChunks").GetInt64() >= 256;
        }), TimeSpan.FromMinutes(3), TimeSpan.FromMilliseconds(250));
        Check.True(took is not null, () => "not back at two copies: " + string.Join("; ", survivors.Select(s => Chunks(s).GetRawText())));
        cluster.Log($"back at two copies {took!.Value.TotalSeconds:F1} s after c was declared dead");
        WaitForSize(Path.Combine(n[1].MountPoint, "f"), 256 << 20);
        Assert.Equal(sha, Sha256Of(Path.Combine(n[1].MountPoint, "f")));
    }

    public void Dispose()
    {
        if (_usedShared && TestContext.Current.TestState?.Result is TestResult.Failed)
        {
            _output.WriteLine(_shared.Diagnostics());
        }
    }
}
