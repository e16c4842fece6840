using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// A damaged metadata log or database, or a log that lost what an fsync made durable: dino-node refuses to start with
/// exit code 3 (start-up failure) and exactly one line on stderr that names the file, the damage and the way out. It never starts at an
/// older version as if nothing happened, and never changes the damaged files.
/// </summary>
public sealed class DinoNode_DamagedMetadataTests : DurabilityHarness
{
    private const int StartupFailure = 3;
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    /// <summary>A node that committed and fsynced 40 small files, then died (kill -9: no snapshot at stop).</summary>
    private DinoNodeTarget NodeWithFsyncedFiles()
    {
        var node = StartNode();
        for (var i = 0; i < 40; i++)
        {
            var outcome = KnownContent.WriteFile(Path.Combine(node.Root, $"f{i:D2}"), KnownContent.Bytes(i, 3000), fsync: true);
            Assert.True(outcome.Ok, $"f{i:D2}: {outcome}");
        }
        node.Kill9();
        return node;
    }

    private static string NewestSegment(DinoNodeTarget node) =>
        Directory.GetFiles(Path.Combine(node.DataDir, "meta", "log"), "*.seg").Order(StringComparer.Ordinal).Last();

    /// <summary>Starts the daemon, expects it to refuse with <see cref="StartupFailure"/>, and returns its single stderr line.</summary>
    private static string AssertRefusesAsDamaged(DinoNodeTarget node)
    {
        using var daemon = node.Launch();
        var code = daemon.WaitForExit(ExitTimeout);
        Assert.True(code is not null, $"dino-node did not exit within {ExitTimeout.TotalSeconds:F0} s");
        var lines = daemon.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(code == StartupFailure && lines.Length == 1,
            $"expected exit code {StartupFailure} and one line on stderr, got {code} and {lines.Length} lines:\n{daemon.Stderr}");
        Assert.False(MountTable.IsFuseMounted(node.MountPoint), "the refused daemon left a mount behind");
        Assert.Contains("move it aside", lines[0], StringComparison.Ordinal);
        return lines[0];
    }

    private static void Cut(string path, long length)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.SetLength(file, length);
    }

    [Fact]
    public void A_log_segment_cut_short_after_fsyncs_is_refused_in_one_line_and_left_as_it_is()
    {
        var node = NodeWithFsyncedFiles();
        var segment = NewestSegment(node);
        var cut = new FileInfo(segment).Length / 2;
        Cut(segment, cut);

        var line = AssertRefusesAsDamaged(node);

        Assert.Contains("fsync", line, StringComparison.Ordinal);
        Assert.Contains("log.synced", line, StringComparison.Ordinal);
        Assert.Equal(cut, new FileInfo(segment).Length);
    }

    [Fact]
    public void A_deleted_log_segment_after_fsyncs_is_refused_in_one_line()
    {
        var node = NodeWithFsyncedFiles();
        File.Delete(NewestSegment(node));

        var line = AssertRefusesAsDamaged(node);

        Assert.Contains("ends at version 0", line, StringComparison.Ordinal);
        Assert.Contains("fsync", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_flipped_byte_inside_a_log_segment_is_refused_in_one_line_naming_the_segment()
    {
        var node = NodeWithFsyncedFiles();
        var segment = NewestSegment(node);
        FlipByte(segment, new FileInfo(segment).Length / 3);

        var line = AssertRefusesAsDamaged(node);

        Assert.Contains(segment, line, StringComparison.Ordinal);
        Assert.Contains("is damaged", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_metadata_database_that_is_not_a_database_is_refused_in_one_line_naming_it()
    {
        var node = StartNode();
        Assert.True(KnownContent.WriteFile(Path.Combine(node.Root, "kept"), KnownContent.Bytes(1, 5000)).Ok);
        node.Stop();
        var db = Path.Combine(node.DataDir, "meta", "metadata.db");
        File.WriteAllBytes(db, KnownContent.Bytes(99, 64 * 1024));
        File.Delete(db + "-wal");
        File.Delete(db + "-shm");

        var line = AssertRefusesAsDamaged(node);

        Assert.Contains(db, line, StringComparison.Ordinal);
    }

    private static void FlipByte(string path, long offset)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        Span<byte> one = stackalloc byte[1];
        Assert.Equal(1, RandomAccess.Read(file, one, offset));
        one[0] ^= 0x5A;
        RandomAccess.Write(file, one, offset);
    }
}
