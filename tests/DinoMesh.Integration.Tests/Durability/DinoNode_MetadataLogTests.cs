using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Durability;

/// <summary>
/// The metadata log across repeated crashes: every start replays it without a gap (the daemon comes up every time),
/// and the version it reaches only grows, because each incarnation commits on top of the previous one's log.
/// </summary>
public sealed class DinoNode_MetadataLogTests : DurabilityHarness
{
    private const int Cycles = 3;

    [Fact]
    public void Three_kill9_restart_cycles_start_every_time_with_a_growing_log_version()
    {
        var node = StartNode();
        var written = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var problems = new List<string>();
        for (var cycle = 0; cycle <= Cycles; cycle++)
        {
            // Whatever earlier incarnations acknowledged is still there.
            foreach (var (path, data) in written)
            {
                var (e, found, _) = KnownContent.ReadFile(path);
                if (e != Errno.OK || !found.AsSpan().SequenceEqual(data))
                {
                    problems.Add($"start {cycle}: {Path.GetRelativePath(node.Root, path)} -> {e}, {found.Length} bytes");
                }
            }
            if (cycle == Cycles)
            {
                break;
            }
            var dir = Path.Combine(node.Root, $"cycle-{cycle}");
            Assert.Equal(Errno.OK, Posix.Mkdir(dir, Posix.Oct(755)));
            for (var i = 0; i < 8; i++)
            {
                var path = Path.Combine(dir, $"f{i}");
                var data = KnownContent.Bytes((cycle * 100) + i, 1000 + (i * 70_000));
                var outcome = KnownContent.WriteFile(path, data, fsync: i % 2 == 0);
                Assert.True(outcome.Ok, $"cycle {cycle}, {path}: {outcome}");
                written[path] = data;
            }
            // Renames, a delete and attribute changes make the log more than appends of new files.
            var renamed = Path.Combine(dir, "renamed");
            Assert.Equal(Errno.OK, Posix.Rename(Path.Combine(dir, "f1"), renamed));
            written[renamed] = written[Path.Combine(dir, "f1")];
            written.Remove(Path.Combine(dir, "f1"));
            Assert.Equal(Errno.OK, Posix.Unlink(Path.Combine(dir, "f3")));
            written.Remove(Path.Combine(dir, "f3"));
            Assert.Equal(Errno.OK, Posix.Chmod(Path.Combine(dir, "f0"), Posix.Oct(600)));
            using (var fd = Posix.Open(Path.Combine(dir, "f0"), Posix.O_RDONLY))
            {
                Assert.Equal(Errno.OK, fd.Fsync());
            }

            node.Kill9();
            node.Start();
        }

        var versions = ReplayedVersions(node, Cycles + 1);
        TestContext.Current.TestOutputHelper?.WriteLine($"log versions at each start: {string.Join(" -> ", versions)}");
        Assert.True(versions.Count == Cycles + 1,
            $"expected {Cycles + 1} 'state at version N' lines (one per start), found {versions.Count}: {string.Join(", ", versions)}");
        for (var i = 1; i < versions.Count; i++)
        {
            if (versions[i] <= versions[i - 1])
            {
                problems.Add($"start {i} replayed to version {versions[i]}, not beyond the previous start's {versions[i - 1]} despite the commits in between");
            }
        }
        problems.AddRange(TreeCheck.Walk(node.Root).Problems);
        AssertNoProblems(problems, $"log versions {string.Join(" -> ", versions)}");
    }
}
