using System.Security.Cryptography;
using System.Text.Json;
using DinoMesh.Node.Tests.Cluster;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// A chunk disk full of cache never fails a write (issue 10): node c's data directory is a small tmpfs, filled with
/// chunks it fetched to read a file of a (chunks placed on a and b with R = 2, so c holds them only as cache). A file
/// then written on c needs that space: the cache gives up its least recently used chunks at once and the write
/// succeeds (on a node without this, the close fails with ENOSPC). The evicted chunks read back on c (fetched again),
/// and a and b still hold every one of them. Repair's pull of a chunk placed on c asks for room the same way, and so
/// does a chunk a writer pushes to c; fallocate on c asks for what the disk lacks, and df on c counts the cache that
/// other members hold as available.
/// </summary>
public sealed class CacheFullDiskTests(ITestOutputHelper output)
{
    private const int DiskMib = 40;
    // More than the 64 MiB of recently fetched chunks a node keeps in memory, so the first ones are read from disk again.
    private const int CachedMib = 80;
    private const int NewMib = 16;
    private const int Mib = 1 << 20;

    [Fact]
    public void A_write_on_a_disk_full_of_cached_chunks_evicts_them_and_succeeds_and_they_read_back_from_their_placement_nodes()
    {
        Requirement.RootAndFuse();
        using var cluster = new TestCluster(output);
        var (a, b, c) = (cluster.Add("a", "127.0.0.11"), cluster.Add("b", "127.0.0.12"), cluster.Add("c", "127.0.0.13"));
        using var disk = DataDirTmpfs.MountAt(c.DataDir, DiskMib);
        // No free-space reserve: only a write's ENOSPC makes room here, so this checks that path (the sweep's reserve has tests of its own).
        cluster.FormWith(["--replicas", "2"], new Dictionary<string, string?> { ["DINOMESH_CHUNK_FREE_RESERVE"] = "0" }, a, b, c);
        cluster.WaitForViews([a, b, c], v => TestCluster.AllAlive(v, [a, b, c]), TimeSpan.FromSeconds(30), "every node sees every other alive");

        // A file on a whose every chunk is placed on a and b: on c it can only be cache.
        var members = new[] { a.PeerId!, b.PeerId!, c.PeerId! };
        var pieces = CachedOnlyOn(c.PeerId!, members, CachedMib);
        var cachedSha = Write(Path.Combine(a.MountPoint, "cached"), pieces);
        cluster.Log($"wrote {CachedMib} MiB on a, every chunk placed on a and b");

        // Read on c: every chunk is fetched and imported until c's disk is full.
        WaitForSize(Path.Combine(c.MountPoint, "cached"), (long)CachedMib * Mib);
        Assert.Equal(cachedSha, Sha256Of(Path.Combine(c.MountPoint, "cached")));
        cluster.Log($"read on c; c's disk has {disk.FreeBytes()} bytes free");
        Assert.True(disk.FreeBytes() < NewMib * Mib, $"c's disk is not full of cache: {disk.FreeBytes()} bytes free");

        // A new file on c needs room the cache holds.
        var fresh = Pieces(NewMib, seed: 7);
        var freshSha = Write(Path.Combine(c.MountPoint, "fresh"), fresh);
        cluster.Log($"wrote {NewMib} MiB on c; its disk has {disk.FreeBytes()} bytes free");
        var chunks = Chunks(c);
        Assert.True(chunks.GetProperty("evictedForSpace").GetInt64() > 0, chunks.GetRawText());
        WaitForSize(Path.Combine(a.MountPoint, "fresh"), (long)NewMib * Mib);
        Assert.Equal(freshSha, Sha256Of(Path.Combine(a.MountPoint, "fresh")));

        // The evicted chunks read back on c: fetched again from a or b.
        var fetchedBefore = Chunks(c).GetProperty("fetched").GetInt64();
        File.WriteAllText("/proc/sys/vm/drop_caches", "1");
        Assert.Equal(cachedSha, Sha256Of(Path.Combine(c.MountPoint, "cached")));
        Assert.True(Chunks(c).GetProperty("fetched").GetInt64() > fetchedBefore, "no chunk of the cached file was fetched again on c");

        // Every chunk keeps its two copies: the cached file's on a and b, the new file's on two nodes.
        foreach (var piece in pieces)
        {
            var id = Hex(piece);
            Assert.True(Holds(a, id) && Holds(b, id), $"chunk {id} is not on both its placement nodes");
        }
        foreach (var piece in fresh)
        {
            var id = Hex(piece);
            Assert.True(new[] { a, b, c }.Count(n => Holds(n, id)) >= 2, $"chunk {id} of the new file has fewer than two copies");
        }
    }

    [Fact]
    public void A_repair_pull_onto_a_disk_full_of_cached_chunks_evicts_them_and_completes()
    {
        Requirement.RootAndFuse();
        using var cluster = new TestCluster(output);
        var (a, b, c) = (cluster.Add("a", "127.0.0.11"), cluster.Add("b", "127.0.0.12"), cluster.Add("c", "127.0.0.13"));
        using var disk = DataDirTmpfs.MountAt(c.DataDir, DiskMib);
        // No free-space reserve: only the pull's ENOSPC makes room here (the sweep would otherwise evict on its own).
        // A repair scan every 5 s instead of 30: the test waits for one.
        cluster.FormWith(["--replicas", "2"], new Dictionary<string, string?> { ["DINOMESH_CHUNK_FREE_RESERVE"] = "0", ["DINOMESH_REPAIR_SECONDS"] = "5" }, a, b, c);
        cluster.WaitForViews([a, b, c], v => TestCluster.AllAlive(v, [a, b, c]), TimeSpan.FromSeconds(30), "every node sees every other alive");
        var members = new[] { a.PeerId!, b.PeerId!, c.PeerId! };

        // c's disk full of cache, as above.
        var cachedSha = Write(Path.Combine(a.MountPoint, "cached"), CachedOnlyOn(c.PeerId!, members, CachedMib));
        WaitForSize(Path.Combine(c.MountPoint, "cached"), (long)CachedMib * Mib);
        Assert.Equal(cachedSha, Sha256Of(Path.Combine(c.MountPoint, "cached")));
        Assert.True(disk.FreeBytes() < NewMib * Mib, $"c's disk is not full of cache: {disk.FreeBytes()} bytes free");
        cluster.Log($"read on c; c's disk has {disk.FreeBytes()} bytes free");

        // A file written on a whose chunks are placed on b and c, and pushed to b: c lacks them until its repair pulls them.
        var owed = OwedTo(c.PeerId!, writer: a.PeerId!, pushedTo: b.PeerId!, members, NewMib);
        var owedSha = Write(Path.Combine(a.MountPoint, "owed"), owed);
        cluster.Log($"wrote {NewMib} MiB on a, placed on b and c, pushed to b");

        // Within a few scans c holds every chunk it owes (without room it never does).
        var pulled = Poll.Until(() => owed.All(p => Holds(c, Hex(p))), TimeSpan.FromSeconds(60));
        var chunks = Chunks(c);
        Assert.True(pulled is not null, $"c did not pull the chunks placed on it within 60 s: {owed.Count(p => Holds(c, Hex(p)))} of {owed.Count}; {chunks.GetRawText()}");
        Assert.True(chunks.GetProperty("evictedForSpace").GetInt64() > 0, chunks.GetRawText());
        cluster.Log($"c pulled every chunk it owes; its disk has {disk.FreeBytes()} bytes free");
        Assert.Equal(owedSha, Sha256Of(Path.Combine(c.MountPoint, "owed")));
        // What was evicted is still on its placement nodes.
        Assert.Equal(cachedSha, Sha256Of(Path.Combine(a.MountPoint, "cached")));
    }

    /// <summary>
    /// Three nodes, R = 2, no free-space reserve (only a write's ENOSPC makes room); c's data directory a 40 MiB tmpfs,
    /// filled with cache by reading on c a file of a whose every chunk is placed on a and b.
    /// </summary>
    private static (NodeProcess A, NodeProcess B, NodeProcess C, string[] Members) FormWithCFullOfCache(TestCluster cluster, DataDirTmpfs disk)
    {
        var (a, b, c) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
        cluster.FormWith(["--replicas", "2"], new Dictionary<string, string?> { ["DINOMESH_CHUNK_FREE_RESERVE"] = "0" }, a, b, c);
        cluster.WaitForViews([a, b, c], v => TestCluster.AllAlive(v, [a, b, c]), TimeSpan.FromSeconds(30), "every node sees every other alive");
        var members = new[] { a.PeerId!, b.PeerId!, c.PeerId! };
        var cachedSha = Write(Path.Combine(a.MountPoint, "cached"), CachedOnlyOn(c.PeerId!, members, CachedMib));
        WaitForSize(Path.Combine(c.MountPoint, "cached"), (long)CachedMib * Mib);
        Assert.Equal(cachedSha, Sha256Of(Path.Combine(c.MountPoint, "cached")));
        Assert.True(disk.FreeBytes() < NewMib * Mib, $"c's disk is not full of cache: {disk.FreeBytes()} bytes free");
        cluster.Log($"read on c; c's disk has {disk.FreeBytes()} bytes free");
        return (a, b, c, members);
    }

    /// <summary>What df shows of a mount: size, used and available bytes.</summary>
    private static (long Size, long Used, long Available) Df(string mount)
    {
        var line = Tool.Run("df", "-B1", "--output=size,used,avail", mount).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1];
        var df = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
        return (df[0], df[1], df[2]);
    }

    [Fact]
    public void Df_on_a_node_whose_disk_is_full_of_cache_shows_the_cache_as_available()
    {
        Requirement.RootAndFuse();
        using var cluster = new TestCluster(output);
        var (_, _, c) = (cluster.Add("a", "127.0.0.11"), cluster.Add("b", "127.0.0.12"), cluster.Add("c", "127.0.0.13"));
        using var disk = DataDirTmpfs.MountAt(c.DataDir, DiskMib);
        FormWithCFullOfCache(cluster, disk);
        var diskSize = new DriveInfo(disk.Path).TotalSize;

        // The cache is counted after the sweep (every 10 s) has asked a and b: within a few sweeps df shows it.
        var shown = Poll.Until(() => Df(c.MountPoint).Available >= disk.FreeBytes() + 24L * Mib, TimeSpan.FromSeconds(40));
        var last = Df(c.MountPoint);
        cluster.Log($"df on c: size {last.Size}, used {last.Used}, available {last.Available}; the disk has {disk.FreeBytes()} of {diskSize} bytes free");
        Assert.True(shown is not null, $"df on c shows {last.Available} bytes available with {disk.FreeBytes()} free on a disk full of cache; {Chunks(c).GetRawText()}");
        Assert.True(last.Available <= diskSize, $"df shows {last.Available} bytes available on a disk of {diskSize}");
        Assert.Equal(last.Size, last.Used + last.Available);
        Assert.True(Chunks(c).GetProperty("evictableBytes").GetInt64() >= 24L * Mib, Chunks(c).GetRawText());
    }

    [Fact]
    public void Fallocate_on_a_disk_full_of_cache_of_more_than_is_free_evicts_and_succeeds_and_the_file_reads_back()
    {
        Requirement.RootAndFuse();
        using var cluster = new TestCluster(output);
        var (_, _, c) = (cluster.Add("a", "127.0.0.11"), cluster.Add("b", "127.0.0.12"), cluster.Add("c", "127.0.0.13"));
        using var disk = DataDirTmpfs.MountAt(c.DataDir, DiskMib);
        FormWithCFullOfCache(cluster, disk);
        // Waits (without asserting: on a node without this df never shows it) until c has counted its cache.
        Poll.Until(() => Df(c.MountPoint).Available >= (NewMib + 4L) * Mib, TimeSpan.FromSeconds(40));
        var free = disk.FreeBytes();
        var evictedBefore = Chunks(c).GetProperty("evictedForSpace").GetInt64();

        var path = Path.Combine(c.MountPoint, "preallocated");
        var fallocate = Tool.TryRun("fallocate", "-l", $"{NewMib}MiB", path);
        cluster.Log($"fallocate -l {NewMib}MiB on c with {free} bytes free: {fallocate.ExitCode} {fallocate.Stderr.Trim()}; now {disk.FreeBytes()} free");

        Assert.True(fallocate.ExitCode == 0, fallocate.ToString());
        Assert.True(free < NewMib * Mib, $"the disk had room without the cache: {free} bytes free");
        Assert.True(Chunks(c).GetProperty("evictedForSpace").GetInt64() > evictedBefore, Chunks(c).GetRawText());
        Assert.True(disk.FreeBytes() >= NewMib * Mib, $"fallocate made no room: {disk.FreeBytes()} bytes free");
        Assert.Equal((long)NewMib * Mib, new FileInfo(path).Length);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(new byte[NewMib * Mib])), Sha256Of(path));
        // Its range written as a preallocator would, and read back on another node.
        var pieces = Pieces(NewMib, seed: 5);
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            foreach (var piece in pieces) file.Write(piece);
        }
        var sha = Convert.ToHexString(SHA256.HashData(pieces.SelectMany(p => p).ToArray()));
        Assert.Equal(sha, Sha256Of(path));
        var onA = Path.Combine(cluster.Nodes[0].MountPoint, "preallocated");
        Assert.True(Poll.Until(() => File.Exists(onA) && new FileInfo(onA).Length == (long)NewMib * Mib && Sha256Of(onA) == sha, TimeSpan.FromSeconds(30)) is not null,
            "the file written into the preallocated range does not read back on a");
    }

    [Fact]
    public void A_replicated_write_whose_push_target_is_full_of_cache_lands_there()
    {
        Requirement.RootAndFuse();
        using var cluster = new TestCluster(output);
        cluster.Add("a", "127.0.0.11");
        cluster.Add("b", "127.0.0.12");
        var c = cluster.Add("c", "127.0.0.13");
        using var disk = DataDirTmpfs.MountAt(c.DataDir, DiskMib);
        var (a, b, _, members) = FormWithCFullOfCache(cluster, disk);

        // A file written on a whose chunks are placed on a and c (b ranks last): a pushes each to c, whose disk is full
        // of cache. On a node without this c answers NoSpace and a pushes to b instead, which is no placement node.
        var pieces = CachedOnlyOn(b.PeerId!, members, NewMib, seed: 3);
        var evictedBefore = Chunks(c).GetProperty("evictedForSpace").GetInt64();
        var sha = Write(Path.Combine(a.MountPoint, "pushed"), pieces);
        cluster.Log($"wrote {NewMib} MiB on a, placed on a and c; c's disk has {disk.FreeBytes()} bytes free");

        var onC = pieces.Count(p => Holds(c, Hex(p)));
        var onB = pieces.Count(p => Holds(b, Hex(p)));
        Assert.True(onB == 0 && onC == pieces.Count, $"of {pieces.Count} chunks c holds {onC} and b {onB}; {Chunks(c).GetRawText()}");
        Assert.True(Chunks(c).GetProperty("evictedForSpace").GetInt64() > evictedBefore, Chunks(c).GetRawText());
        WaitForSize(Path.Combine(c.MountPoint, "pushed"), (long)NewMib * Mib);
        Assert.Equal(sha, Sha256Of(Path.Combine(c.MountPoint, "pushed")));
    }

    /// <summary>
    /// <paramref name="mib"/> random 1 MiB pieces that <paramref name="writer"/> ranks last for (placed on the other two
    /// with R = 2) and that the writer pushes to <paramref name="pushedTo"/>: <paramref name="peer"/> must pull them.
    /// </summary>
    private static List<byte[]> OwedTo(string peer, string writer, string pushedTo, string[] members, int mib)
    {
        var random = new Random(11);
        var pieces = new List<byte[]>();
        // About one in six qualifies; bounded all the same.
        for (var tries = 0; pieces.Count < mib && tries < 100 * mib; tries++)
        {
            var piece = new byte[Mib];
            random.NextBytes(piece);
            if (PushTarget.RanksLast(piece, writer, members) && PushTarget.Is(piece, pushedTo, [pushedTo, peer])) pieces.Add(piece);
        }
        Assert.Equal(mib, pieces.Count);
        return pieces;
    }

    /// <summary><paramref name="mib"/> random 1 MiB pieces (chunks) that <paramref name="peer"/> ranks last for among <paramref name="members"/>.</summary>
    private static List<byte[]> CachedOnlyOn(string peer, string[] members, int mib, int seed = 1)
    {
        var random = new Random(seed);
        var pieces = new List<byte[]>();
        // About one in three qualifies; bounded all the same.
        for (var tries = 0; pieces.Count < mib && tries < 100 * mib; tries++)
        {
            var piece = new byte[Mib];
            random.NextBytes(piece);
            if (PushTarget.RanksLast(piece, peer, members)) pieces.Add(piece);
        }
        Assert.Equal(mib, pieces.Count);
        return pieces;
    }

    private static List<byte[]> Pieces(int mib, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, mib).Select(_ =>
        {
            var piece = new byte[Mib];
            random.NextBytes(piece);
            return piece;
        })];
    }

    /// <summary>Writes the pieces in order (one 1 MiB write each: one chunk each) and closes; the SHA-256 of the whole.</summary>
    private static string Write(string path, List<byte[]> pieces)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            foreach (var piece in pieces)
            {
                file.Write(piece);
                sha.AppendData(piece);
            }
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    private static string Sha256Of(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, Mib);
        return Convert.ToHexString(SHA256.HashData(file));
    }

    private static void WaitForSize(string path, long bytes) =>
        Assert.True(Poll.Until(() => File.Exists(path) && new FileInfo(path).Length == bytes, TimeSpan.FromSeconds(30)) is not null,
            $"{path} did not reach {bytes} bytes within 30 s");

    private static JsonElement Chunks(NodeProcess node) => node.Status().GetProperty("chunks");

    private static string Hex(byte[] piece) => Convert.ToHexStringLower(SHA256.HashData(piece));

    /// <summary>Whether the node's chunk store holds the chunk (its file, out of quarantine).</summary>
    private static bool Holds(NodeProcess node, string id) =>
        Directory.EnumerateFiles(Path.Combine(node.DataDir, "chunks"), id, SearchOption.AllDirectories).Any(f => !f.Contains("quarantine"));
}
