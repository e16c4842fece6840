using System.Security.Cryptography;
using System.Text.Json;
using DinoMesh.Integration.Tests.Lifecycle;
using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Conformance;

/// <summary>
/// A file grown by small appends, each made durable with fsync, is stored as one extent per fsync until the node's
/// compactor merges them: once it has caught up, no 1 MiB block holds 16 extents or more (Compactor's threshold), and
/// the file reads back as written.
/// </summary>
public sealed class DinoNode_CompactionTests : TrackedTargets
{
    private const long MiB = 1L << 20;

    /// <summary>Extents a block keeps at most once compacted (one under the compactor's threshold of 16).</summary>
    private const int MaxExtentsPerBlock = 15;

    private static readonly TimeSpan CatchUp = TimeSpan.FromSeconds(90);

    private static JsonElement Status(DinoNodeTarget target) =>
        JsonDocument.Parse(Tool.Run(SourceTree.DaemonCommand.File, [.. SourceTree.DaemonCommand.Prefix, "status", "--json", "--data-dir", target.DataDir]).Stdout).RootElement;

    private static long Extents(DinoNodeTarget target) => Status(target).GetProperty("extents").GetInt64();

    /// <summary>Appends <paramref name="count"/> pieces of <paramref name="size"/> random bytes with an fsync after each; returns their SHA-256.</summary>
    private static string AppendWithFsync(string path, int count, int size)
    {
        var random = new Random(size);
        var piece = new byte[size];
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var fd = Posix.Open(path, Posix.O_CREAT | Posix.O_WRONLY | Posix.O_APPEND, Posix.Oct(644));
        for (var i = 0; i < count; i++)
        {
            random.NextBytes(piece);
            fd.Write(piece);
            Assert.Equal(Errno.OK, fd.Fsync());
            sha.AppendData(piece);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Polls the node's extent count until it is at most <paramref name="bound"/> or <see cref="CatchUp"/> passed; returns the last count.</summary>
    private static long SettledExtents(DinoNodeTarget node, long bound)
    {
        var deadline = DateTime.UtcNow + CatchUp;
        long extents;
        while ((extents = Extents(node)) > bound && DateTime.UtcNow < deadline) Thread.Sleep(250);
        return extents;
    }

    private static string Sha256Of(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Theory]
    [InlineData(2000, 8192)]   // a chunk per fsync: 128 per MiB without compaction
    [InlineData(5000, 200)]    // inline pieces: 5,000 in one block without compaction
    public void Appends_with_fsync_are_compacted_to_a_bounded_extent_count_and_read_back_as_written(int count, int size)
    {
        var node = Make(() => DinoNodeTarget.Mount("--atime", "noatime"));
        var path = Path.Combine(node.Root, "log");

        var written = AppendWithFsync(path, count, size);

        var blocks = ((long)count * size + MiB - 1) / MiB;
        var bound = blocks * MaxExtentsPerBlock;
        var extents = SettledExtents(node, bound);
        Assert.True(extents <= bound, $"{extents} extents for {blocks} blocks after {CatchUp.TotalSeconds} s (at most {bound}); written as {count}\n{node.Diagnostics()}");
        Assert.Equal((long)count * size, new FileInfo(path).Length);
        Assert.Equal(written, Sha256Of(path));
        // And from disk, not the kernel's page cache: the node restarts with only its log and chunk files.
        node.Restart();
        Assert.Equal(written, Sha256Of(path));
    }

    [Fact]
    public void A_file_left_fragmented_by_a_kill_during_its_quiet_period_is_compacted_after_the_restart_without_a_new_write()
    {
        var node = Make(() => DinoNodeTarget.Mount("--atime", "noatime"));
        var path = Path.Combine(node.Root, "log");
        const int Count = 2000, Size = 8192;

        var written = AppendWithFsync(path, Count, Size);
        // At once: the compactor leaves the file alone until it has been quiet for 500 ms, and 128 extents per block
        // are below its busy cap (256), so every block is still fragmented when the process dies.
        node.Kill9();
        node.Start();

        var blocks = ((long)Count * Size + MiB - 1) / MiB;
        var bound = blocks * MaxExtentsPerBlock;
        var extents = SettledExtents(node, bound);
        var compaction = Status(node).GetProperty("compaction");
        Assert.True(extents <= bound, $"{extents} extents for {blocks} blocks {CatchUp.TotalSeconds} s after the restart (at most {bound})\n{compaction}\n{node.Diagnostics()}");
        // The restarted process did it: its counters start at zero, and it found the blocks by its scan.
        Assert.True(compaction.GetProperty("foundAtStart").GetInt64() > 0, compaction.ToString());
        // The free-space reserve (max(64 MiB, 1 %), at most 1 GiB) held nothing back on a disk with room, and the
        // installed build reports it.
        Assert.Equal(0, compaction.GetProperty("lowSpace").GetInt64());
        Assert.Equal((long)Count * Size, new FileInfo(path).Length);
        Assert.Equal(written, Sha256Of(path));
        node.Restart();
        Assert.Equal(written, Sha256Of(path));
    }

    [Fact]
    public void A_node_killed_while_it_compacts_keeps_every_fsynced_byte()
    {
        var node = Make(() => DinoNodeTarget.Mount("--atime", "noatime"));
        var path = Path.Combine(node.Root, "log");
        const int Count = 2000, Size = 8192;

        var written = AppendWithFsync(path, Count, Size);
        // Kill as soon as the first run is committed: the worker is then storing and committing the next ones.
        var deadline = DateTime.UtcNow + CatchUp;
        while (Status(node).GetProperty("compaction").GetProperty("compacted").GetInt64() == 0 && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.True(Status(node).GetProperty("compaction").GetProperty("compacted").GetInt64() > 0, $"no compaction within {CatchUp.TotalSeconds} s\n{node.Diagnostics()}");
        node.Kill9();
        node.Start();

        Assert.Equal((long)Count * Size, new FileInfo(path).Length);
        Assert.Equal(written, Sha256Of(path));
    }
}
