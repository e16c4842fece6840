using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// kill -9 of dino-node in the middle of work, then a restart over the same data: what fsync acknowledged is there,
/// whole; everything else is either absent or a correct prefix of what was written — never garbage, never EIO.
/// </summary>
public sealed partial class DinoNode_CrashTests : DurabilityHarness
{
    private const int Writers = 4;
    private static readonly TimeSpan StormLimit = TimeSpan.FromSeconds(20);

    /// <summary>The content a writer gives its n-th file: sizes from 1 byte to 1.5 MiB, so files span 0..2 chunks.</summary>
    private static byte[] Expected(int writer, int n)
    {
        var seed = (writer * 100_000) + n;
        var length = n % 5 == 0 ? 1 + (seed % 3000) : 1 + (int)((seed * 7919L) % (3 << 19));
        return KnownContent.Bytes(seed, length);
    }

    [GeneratedRegex(@"^w(\d+)-(\d+)$")]
    private static partial Regex StormName();

    [Fact]
    public void Kill9_during_a_write_storm_keeps_every_fsynced_file_and_leaves_only_correct_prefixes()
    {
        var node = StartNode();
        var dir = Path.Combine(node.Root, "storm");
        Directory.CreateDirectory(dir);
        var fsynced = new ConcurrentDictionary<string, byte[]>(StringComparer.Ordinal);
        var errors = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var threads = Enumerable.Range(0, Writers).Select(w => new Thread(() =>
        {
            // Each writer stops at its first failure: after the kill every call fails (ENOTCONN, ECONNABORTED).
            for (var n = 0; n < 10_000 && !stop.IsCancellationRequested; n++)
            {
                var path = Path.Combine(dir, $"w{w}-{n}");
                var data = Expected(w, n);
                // Every third file is only closed, not fsynced: after the crash it may be anything from absent to whole.
                var sync = n % 3 != 2;
                var outcome = KnownContent.WriteFile(path, data, fsync: sync, piece: 64 * 1024);
                if (!outcome.Ok)
                {
                    errors.Enqueue($"{Path.GetFileName(path)}: {outcome}");
                    return;
                }
                if (sync)
                {
                    fsynced[path] = data;
                }
            }
        })
        { IsBackground = true, Name = $"writer {w}" }).ToList();
        threads.ForEach(t => t.Start());

        // Kill while the storm is in full swing: after at least 40 fsynced files, or 10 s.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (fsynced.Count < 40 && DateTime.UtcNow < deadline && threads.Any(t => t.IsAlive))
        {
            Thread.Sleep(20);
        }
        Assert.True(threads.All(t => t.IsAlive), $"a writer stopped before the kill: {string.Join("; ", errors)}");
        node.Kill9();
        stop.Cancel();
        var joinDeadline = DateTime.UtcNow + StormLimit;
        foreach (var t in threads)
        {
            Assert.True(t.Join(joinDeadline - DateTime.UtcNow > TimeSpan.Zero ? joinDeadline - DateTime.UtcNow : TimeSpan.Zero),
                $"{t.Name} is still blocked in a system call {StormLimit.TotalSeconds:F0} s after the daemon was killed");
        }
        var acknowledged = fsynced.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        Assert.True(acknowledged.Count >= 4, $"only {acknowledged.Count} files were fsynced before the kill");

        node.Start();

        var problems = new List<string>();
        var tree = Bounded(() => TreeCheck.Walk(node.Root), StormLimit, "walking the tree");
        problems.AddRange(tree.Problems);
        foreach (var (path, data) in acknowledged)
        {
            if (!tree.Files.TryGetValue(path, out var found))
            {
                problems.Add($"{Path.GetFileName(path)}: fsync succeeded, gone after kill -9");
            }
            else if (!found.AsSpan().SequenceEqual(data))
            {
                problems.Add($"{Path.GetFileName(path)}: fsync succeeded for {data.Length} bytes, after kill -9 it has {found.Length} bytes with other content");
            }
        }
        foreach (var (path, found) in tree.Files.Where(f => !acknowledged.ContainsKey(f.Key)))
        {
            var m = StormName().Match(Path.GetFileName(path));
            if (Path.GetDirectoryName(path) != dir || !m.Success)
            {
                problems.Add($"{path}: a name nobody created");
                continue;
            }
            var expected = Expected(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
                int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
            if (found.Length > expected.Length || !found.AsSpan().SequenceEqual(expected.AsSpan(0, found.Length)))
            {
                problems.Add($"{Path.GetFileName(path)} (not fsynced): {found.Length} bytes that are not a prefix of the {expected.Length} written");
            }
        }
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{acknowledged.Count} files fsynced before the kill; {tree.Files.Count} listed after the restart; writers ended with: {string.Join("; ", errors)}");
        var count = TreeCheck.FindCount(node.Root, problems);
        if (count != tree.Entries.Count + 1)
        {
            problems.Add($"find printed {count} lines, the walk found {tree.Entries.Count} entries + the root");
        }
        AssertNoProblems(problems, $"after kill -9 during a write storm ({acknowledged.Count} fsynced, {tree.Files.Count} files listed)");
    }

    [Fact]
    public void Kill9_right_after_a_rename_storm_and_a_directory_fsync_keeps_the_final_names()
    {
        const int files = 120;
        var node = StartNode();
        string P(params string[] parts) => Path.Combine([node.Root, .. parts]);
        Assert.Equal(Errno.OK, Posix.Mkdir(P("r"), Posix.Oct(755)));
        Assert.Equal(Errno.OK, Posix.Mkdir(P("r", "sub"), Posix.Oct(755)));

        // The classic atomic-replace pattern: write a temp name, fsync it, rename over the final name, fsync the directory.
        string Final(int i) => i % 5 == 0 ? P("r", "sub", $"final-{i}") : P("r", $"final-{i}");
        for (var i = 0; i < files; i++)
        {
            if (i % 2 == 0)
            {
                File.WriteAllText(Final(i), $"old {i}");
            }
            var outcome = KnownContent.WriteFile(P("r", $"tmp-{i}"), System.Text.Encoding.UTF8.GetBytes($"new {i}"));
            Assert.True(outcome.Ok, $"tmp-{i}: {outcome}");
        }
        for (var i = 0; i < files; i++)
        {
            Assert.Equal(Errno.OK, Posix.Rename(P("r", $"tmp-{i}"), Final(i)));
        }
        foreach (var d in new[] { P("r"), P("r", "sub") })
        {
            using var fd = Posix.Open(d, Posix.O_RDONLY);
            Assert.Equal(Errno.OK, fd.Fsync());
        }
        node.Kill9();
        node.Start();

        var problems = new List<string>();
        for (var i = 0; i < files; i++)
        {
            var (e, data, _) = KnownContent.ReadFile(Final(i));
            var text = System.Text.Encoding.UTF8.GetString(data);
            if (e != Errno.OK || text != $"new {i}")
            {
                problems.Add($"{Path.GetRelativePath(node.Root, Final(i))}: {e}, '{text}' instead of 'new {i}'");
            }
        }
        var left = Directory.GetFileSystemEntries(P("r"), "tmp-*", SearchOption.AllDirectories);
        if (left.Length > 0)
        {
            problems.Add($"{left.Length} temp names survived their rename: {string.Join(", ", left.Take(5).Select(Path.GetFileName))}");
        }
        var names = Directory.GetFileSystemEntries(P("r")).Length + Directory.GetFileSystemEntries(P("r", "sub")).Length;
        if (names != files + 1)
        {
            problems.Add($"{names} names in r/ and r/sub/, expected {files} files + sub");
        }
        problems.AddRange(TreeCheck.Walk(node.Root).Problems);
        AssertNoProblems(problems, "after kill -9 right after a rename storm");
    }
}
