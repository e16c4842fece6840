using DinoMesh.Integration.Tests.Support;
using DinoMesh.Integration.Tests.Targets;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// dino-node whose data directory is a 64 MiB tmpfs, written until it is full. A full disk must surface as ENOSPC on
/// write/fsync/close (never EIO, never a hang), must not take the daemon down, and must not harm what was committed
/// before. (Deleted chunks are not garbage-collected yet, so these tests never expect space to come back.)
/// </summary>
public sealed class DinoNode_EnospcTests : DurabilityHarness
{
    private const int DiskMiB = 64;
    private const int BigFile = 2 << 20;
    private static readonly TimeSpan FillLimit = TimeSpan.FromSeconds(40);
    private static readonly TimeSpan SlowCall = TimeSpan.FromSeconds(10);

    /// <summary>A file that was written, fsynced and closed without error, with its content hash.</summary>
    private sealed record Committed(string Path, string Sha, int Length);

    /// <summary>What filling the disk did: the files committed, every failed call, and whether ENOSPC was among them.</summary>
    private sealed record Fill(List<Committed> Files, List<string> Failures, bool SawEnospc, TimeSpan Slowest);

    /// <summary>
    /// Writes 2 MiB files (write, fsync, close) until one fails, then keeps creating small files for a while so the
    /// metadata path meets the full disk too. Every file has distinct content (no deduplication).
    /// </summary>
    private static Fill FillUntilFull(string dir)
    {
        Directory.CreateDirectory(dir);
        var files = new List<Committed>();
        var failures = new List<string>();
        var sawEnospc = false;
        var slowest = TimeSpan.Zero;
        var firstFailure = -1;
        // 64 MiB holds about 32 big files; the bound only matters if ENOSPC never comes.
        for (var i = 0; i < 80; i++)
        {
            var small = firstFailure >= 0;
            if (small && i - firstFailure > 25)
            {
                break;
            }
            var path = Path.Combine(dir, small ? $"small-{i:D3}" : $"big-{i:D3}");
            var data = KnownContent.Bytes(1000 + i, small ? 4096 : BigFile);
            var outcome = KnownContent.WriteFile(path, data);
            slowest = outcome.Slowest > slowest ? outcome.Slowest : slowest;
            if (outcome.Ok)
            {
                files.Add(new Committed(path, KnownContent.Sha(data), data.Length));
                continue;
            }
            firstFailure = firstFailure < 0 ? i : firstFailure;
            sawEnospc |= outcome.Error == Errno.ENOSPC;
            failures.Add($"{Path.GetFileName(path)}: {outcome}");
        }
        return new Fill(files, failures, sawEnospc, slowest);
    }

    private Fill FillBounded(DinoNodeTarget node)
    {
        var fill = Bounded(() => FillUntilFull(Path.Combine(node.Root, "fill")), FillLimit, "filling the disk");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{fill.Files.Count} files committed; slowest call {fill.Slowest.TotalMilliseconds:F0} ms; failures: {string.Join("; ", fill.Failures)}");
        return fill;
    }

    /// <summary>Every committed file reads back with its exact content.</summary>
    private static void CheckCommitted(IEnumerable<Committed> files, List<string> problems)
    {
        foreach (var f in files)
        {
            var (error, data, at) = KnownContent.ReadFile(f.Path);
            if (error != Errno.OK)
            {
                problems.Add($"{f.Path}: committed, but read at {at} -> {error}");
            }
            else if (data.Length != f.Length || KnownContent.Sha(data) != f.Sha)
            {
                problems.Add($"{f.Path}: committed {f.Length} bytes, read back {data.Length} bytes with other content");
            }
        }
    }

    [Fact]
    public void Full_disk_answers_ENOSPC_not_EIO_and_keeps_the_daemon_and_committed_files()
    {
        var disk = MountTmpfs(DiskMiB);
        var node = StartNode(Path.Combine(disk.Path, "data"));

        var fill = FillBounded(node);
        var problems = new List<string>();
        if (!fill.SawEnospc)
        {
            problems.Add($"no call failed with ENOSPC ({fill.Files.Count} files committed, {disk.FreeBytes()} bytes free); failures: {string.Join("; ", fill.Failures)}");
        }
        problems.AddRange(fill.Failures.Where(f => !f.EndsWith("-> ENOSPC", StringComparison.Ordinal)).Select(f => $"wrong errno on a full disk: {f}"));
        if (fill.Slowest > SlowCall)
        {
            problems.Add($"one call took {fill.Slowest.TotalSeconds:F1} s on a full disk");
        }
        if (fill.Files.Count < 5)
        {
            problems.Add($"only {fill.Files.Count} files fit before the first failure on a {DiskMiB} MiB disk");
        }
        if (node.DaemonPid is null || !MountTable.IsFuseMounted(node.MountPoint))
        {
            AssertNoProblems([.. problems, "the daemon died or lost its mount when the disk filled up"], "full disk");
        }

        CheckCommitted(fill.Files, problems);
        problems.AddRange(Bounded(() => TreeCheck.Walk(node.Root), FillLimit, "walking the tree").Problems);

        // Deleting must not be an I/O error; whether it succeeds on a full disk (the log must grow to record it) is open.
        var deleted = fill.Files.Take(3).ToList();
        foreach (var f in deleted)
        {
            var e = Posix.Unlink(f.Path);
            if (e is not (Errno.OK or Errno.ENOSPC))
            {
                problems.Add($"unlink {Path.GetFileName(f.Path)} on a full disk -> {e}");
            }
            else if (e == Errno.OK && Posix.Lstat(f.Path, out _) != Errno.ENOENT)
            {
                problems.Add($"{f.Path} still there after unlink succeeded");
            }
        }
        CheckCommitted(fill.Files.Skip(3), problems);
        if (node.DaemonPid is null)
        {
            problems.Add("the daemon died after the deletes");
        }
        AssertNoProblems(problems, "full disk");
    }

    [Fact]
    public void Once_the_disk_has_room_again_the_running_daemon_takes_writes_without_a_restart()
    {
        var disk = MountTmpfs(DiskMiB);
        var node = StartNode(Path.Combine(disk.Path, "data"));
        var fill = FillBounded(node);
        Assert.True(fill.Failures.Count > 0, "the disk never filled up");

        disk.Resize(DiskMiB * 2);

        var problems = new List<string>();
        var after = Enumerable.Range(0, 4).Select(i => (Path: Path.Combine(node.Root, $"after-{i}"), Data: KnownContent.Bytes(500 + i, BigFile))).ToList();
        foreach (var (path, data) in after)
        {
            var outcome = Bounded(() => KnownContent.WriteFile(path, data), FillLimit, $"writing {path}");
            if (!outcome.Ok)
            {
                problems.Add($"{Path.GetFileName(path)} with room on the disk again: {outcome}");
            }
        }
        CheckCommitted(after.Select(a => new Committed(a.Path, KnownContent.Sha(a.Data), a.Data.Length)), problems);
        CheckCommitted(fill.Files, problems);
        problems.AddRange(TreeCheck.Walk(node.Root).Problems);
        AssertNoProblems(problems, "after making room");
    }

    [Fact]
    public void Sigterm_on_a_full_disk_exits_0()
    {
        var disk = MountTmpfs(DiskMiB);
        var node = StartNode(Path.Combine(disk.Path, "data"));
        var fill = FillBounded(node);
        Assert.True(fill.Failures.Count > 0, "the disk never filled up");

        var code = node.Stop();
        Assert.True(code == 0, $"dino-node on a full disk exited with {code?.ToString() ?? "no exit within 15 s of SIGTERM (killed)"}");
        Assert.False(MountTable.IsFuseMounted(node.MountPoint), "the mount outlived the daemon");
    }

    [Fact]
    public void Restart_on_the_full_disk_serves_every_fsynced_file()
    {
        var disk = MountTmpfs(DiskMiB);
        var node = StartNode(Path.Combine(disk.Path, "data"));
        var fill = FillBounded(node);
        Assert.True(fill.Failures.Count > 0, "the disk never filled up");

        // kill -9, not SIGTERM: this test is about starting on a full disk, whatever a clean stop does there.
        node.Kill9();
        try
        {
            node.Start();
        }
        catch (InvalidOperationException e)
        {
            Assert.Fail($"dino-node does not start on its full data disk, so the committed files cannot be read: {e.Message.Split('\n')[0]}");
        }

        var problems = new List<string>();
        CheckCommitted(fill.Files, problems);
        problems.AddRange(TreeCheck.Walk(node.Root).Problems);
        AssertNoProblems(problems, "after a restart on the full disk");
    }

    [Fact]
    public void Stop_grow_the_disk_restart_keeps_every_fsynced_file_and_a_consistent_tree()
    {
        var disk = MountTmpfs(DiskMiB);
        var node = StartNode(Path.Combine(disk.Path, "data"));
        var fill = FillBounded(node);
        Assert.True(fill.Failures.Count > 0, "the disk never filled up");
        var before = TreeCheck.Walk(node.Root);

        node.Stop();
        disk.Resize(DiskMiB * 2);
        node.Start();

        var problems = new List<string>();
        CheckCommitted(fill.Files, problems);
        var after = Bounded(() => TreeCheck.Walk(node.Root), FillLimit, "walking the tree");
        problems.AddRange(after.Problems);
        foreach (var missing in before.Entries.Except(after.Entries))
        {
            // Names whose creation failed may or may not have been committed; committed files are checked above.
            if (fill.Files.Any(f => f.Path == missing))
            {
                problems.Add($"{missing} was listed before the restart and is gone after it");
            }
        }
        var count = TreeCheck.FindCount(node.Root, problems);
        if (count != after.Entries.Count + 1)
        {
            problems.Add($"find printed {count} lines, the walk found {after.Entries.Count} entries + the root");
        }
        // With room again, the volume takes writes.
        var probe = KnownContent.WriteFile(Path.Combine(node.Root, "after-grow"), KnownContent.Bytes(7, 100_000));
        if (!probe.Ok)
        {
            problems.Add($"a write after growing the disk failed: {probe}");
        }
        AssertNoProblems(problems, "after growing the disk and restarting");
    }
}
