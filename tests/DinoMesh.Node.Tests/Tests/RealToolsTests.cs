using System.Collections.Concurrent;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.RandomOps;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// Real tools on three real dino-nodes (`--replicas 2`), the way users run them, each compared with the same tool on a
/// native directory: a tree unpacked by `tar` on one node archives byte for byte as the native tree on the others and
/// `rsync --checksum` finds nothing to change; an sqlite3 database written on one node is intact on the next and takes
/// writes there; lines appended by `>>` in turn on three nodes are all kept; two `rm -rf` of one tree on two nodes at
/// once both succeed; an open that begins after another node removed the file finds nothing, one from before reads it
/// whole. The tests share one cluster, each in names of its own.
/// </summary>
public sealed class RealToolsTests : IClassFixture<ClassCluster>, IDisposable
{
    private static readonly TimeSpan Visible = TimeSpan.FromSeconds(10);
    private readonly ClassCluster _shared;
    private readonly ITestOutputHelper _output;

    /// <summary>Native directories of the test (the tree to compare with), deleted at the end.</summary>
    private readonly string _scratch = Directory.CreateTempSubdirectory("dinomesh-realtools-").FullName;

    public RealToolsTests(ClassCluster shared, ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _shared = shared;
        _output = output;
    }

    private (NodeProcess A, NodeProcess B, NodeProcess C) Three()
    {
        var (_, nodes) = _shared.Get(c =>
        {
            var three = new[] { c.Add("n1", "127.0.0.11"), c.Add("n2", "127.0.0.12"), c.Add("n3", "127.0.0.13") };
            c.FormWith(["--replicas", "2"], three);
            return three;
        });
        return (nodes[0], nodes[1], nodes[2]);
    }

    private static string On(NodeProcess node, string relative) => Path.Combine(node.MountPoint, relative);

    [Fact]
    public void A_tree_unpacked_by_tar_on_one_node_archives_as_the_native_tree_on_the_others_and_rsync_finds_no_difference()
    {
        Need("tar", "rsync", "setfacl", "setfattr", "sha256sum");
        var (a, b, c) = Three();
        var native = Path.Combine(_scratch, "native");
        MakeTree(native);
        var archive = Path.Combine(_scratch, "tree.tar");
        Sh($"tar --xattrs --acls -cf {archive} -C {native} .");
        Directory.CreateDirectory(On(a, "tar"));
        Sh($"tar --xattrs --acls -xpf {archive} -C {On(a, "tar")}", TimeSpan.FromSeconds(120));

        var expected = ArchiveDigest(native);
        foreach (var node in new[] { b, c })
        {
            Assert.Equal(expected, ArchiveDigest(On(node, "tar")));
        }
        // rsync compares every byte (--checksum), owner, mode, time, hard link, ACL and xattr, and would change nothing.
        Assert.Equal("", Sh($"rsync -aHAX --checksum --dry-run --itemize-changes --delete {On(b, "tar")}/ {native}/"));
        Assert.Equal("", Sh($"rsync -aHAX --checksum --dry-run --itemize-changes --delete {native}/ {On(c, "tar")}/"));
    }

    /// <summary>
    /// About 1,300 entries: small files of many sizes, a 3 MiB one, hard links, relative, absolute and dangling symlinks,
    /// odd modes (set-id, sticky, none), old mtimes, a fifo, an ACL and user xattrs, and names no text encoding fits.
    /// </summary>
    private static void MakeTree(string root)
    {
        Directory.CreateDirectory(root);
        for (var d = 0; d < 25; d++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, $"d{d}", "sub")).FullName;
            for (var f = 0; f < 50; f++)
            {
                var bytes = new byte[(d * 50 + f) * 37 % 20_000];
                new Random(d * 1000 + f).NextBytes(bytes);
                File.WriteAllBytes(Path.Combine(dir, $"f{f}"), bytes);
            }
        }
        var big = new byte[3 << 20];
        new Random(7).NextBytes(big);
        File.WriteAllBytes(Path.Combine(root, "big"), big);
        Sh($"""
            cd {root} && mkdir special && cd special &&
            echo hello > a && ln a b && ln a c && ln -s ../big rel && ln -s /etc/hostname abs && ln -s missing dangling &&
            for m in 0 400 1777 2755 4755 6711 640; do echo $m > f$m; chmod $m f$m; done && mkdir d700 && chmod 700 d700 &&
            mkfifo fifo && touch -d '1999-01-02 03:04:05.123456789' f400 && touch -h -d '2001-01-01' rel &&
            setfattr -n user.color -v blue a && setfacl -m u:nobody:rw f640 && chown nobody f640 &&
            printf x > "$(printf 'bad\377name')" && printf y > "$(printf 'new\nline')"
            """);
    }

    /// <summary>SHA-256 of the tree's archive in name order, without atime and ctime (which no copy keeps).</summary>
    private static string ArchiveDigest(string dir) =>
        Sh($"tar --sort=name --xattrs --acls --pax-option=delete=atime,delete=ctime,exthdr.name=%d/PaxHeaders/%f -cf - -C {dir} . | sha256sum").Trim();

    [Fact]
    public void An_sqlite_database_written_on_one_node_is_intact_on_the_next_and_takes_its_writes()
    {
        Need("sqlite3");
        var (a, b, c) = Three();
        Directory.CreateDirectory(On(a, "sqlite"));
        var db = "sqlite/app.db";
        // Many small transactions on a, each a journal file made, written, fsynced and removed.
        Sqlite(On(a, db), "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB); CREATE INDEX tk ON t(k);" +
            string.Concat(Enumerable.Range(0, 200).Select(i => $"BEGIN; INSERT INTO t(k, v) VALUES('a{i}', randomblob({i * 37 % 5000})); UPDATE t SET k = k || 'x' WHERE id = {i / 2 + 1}; COMMIT;")));
        // Opened on b after a closed it: whole and consistent; then b writes.
        Assert.Equal("ok\n200", Sqlite(On(b, db), "PRAGMA integrity_check; SELECT count(*) FROM t;").Trim());
        Sqlite(On(b, db), string.Concat(Enumerable.Range(0, 100).Select(i => $"BEGIN; INSERT INTO t(k, v) VALUES('b{i}', randomblob(3000)); DELETE FROM t WHERE id = {i * 2 + 1}; COMMIT;")));
        Assert.Equal("ok\n200", Sqlite(On(c, db), "PRAGMA integrity_check; SELECT count(*) FROM t;").Trim());
        var dumps = new[] { a, b, c }.Select(n => Sqlite(On(n, db), ".dump")).ToList();
        Assert.All(dumps, d => Assert.Equal(dumps[1], d));
    }

    private static string Sqlite(string db, string sql) => Tool.Run("sqlite3", [db, sql], TimeSpan.FromSeconds(120)).Stdout;

    [Fact]
    public void Lines_appended_by_the_shell_in_turn_on_three_nodes_are_all_there_in_order()
    {
        var (a, b, c) = Three();
        const int Lines = 90;
        var mounts = string.Join(' ', new[] { a, b, c }.Select(n => n.MountPoint));
        // Each `>>` is an open with O_APPEND, one write and a close, on the next node of the three in turn.
        Sh($"m=({mounts}); for i in $(seq 1 {Lines}); do echo \"line $i\" >> ${{m[$((i % 3))]}}/appended.log; done");
        var expected = string.Concat(Enumerable.Range(1, Lines).Select(i => $"line {i}\n"));
        foreach (var node in new[] { a, b, c })
        {
            Assert.Equal(expected, File.ReadAllText(On(node, "appended.log")));
        }
    }

    /// <summary>
    /// Two shell loops, on b and on c at the same time, each appending its own lines with `>>` to one log, as two
    /// loggers on two machines do: no turns. Each append is staged at the end of the file as its node knows it, and
    /// both nodes often know the same end; the bytes land at the end as the log orders the commits
    /// (WriteExtents.AppendedAt). Before, both wrote at that end and the later commit laid its line over the other's,
    /// acknowledged, line. Every line must be there exactly once, whole, each loop's lines in their order.
    /// </summary>
    [Fact]
    public async Task Lines_appended_by_two_shell_loops_on_two_nodes_at_once_are_each_there_exactly_once()
    {
        var (a, b, c) = Three();
        const int Lines = 150;
        File.WriteAllText(On(a, "concurrent-append.log"), "");
        Assert.NotNull(Poll.Until(() => File.Exists(On(b, "concurrent-append.log")) && File.Exists(On(c, "concurrent-append.log")), Visible));

        var loops = new[] { b, c }.Select(n => Task.Run(() => Tool.TryRun("bash",
            ["-c", $"for i in $(seq 1 {Lines}); do echo \"{n.Name} $i\" >> {On(n, "concurrent-append.log")} || exit 1; done"],
            TimeSpan.FromSeconds(180)))).ToArray();
        foreach (var r in await Task.WhenAll(loops)) Assert.True(r.ExitCode == 0 && r.Stderr.Length == 0, r.ToString());
        var newest = Math.Max(AppliedVersion.Of(b.DataDir), AppliedVersion.Of(c.DataDir));

        foreach (var node in new[] { a, b, c })
        {
            Assert.NotNull(Poll.Until(() => AppliedVersion.Of(node.DataDir) >= newest, Visible));
            var text = File.ReadAllText(On(node, "concurrent-append.log"));
            var problems = new List<string>();
            if (text.Length > 0 && !text.EndsWith('\n')) problems.Add($"ends in a torn line: {text[^Math.Min(40, text.Length)..]}");
            var lines = text.Split('\n')[..^1];
            foreach (var writer in new[] { b, c })
            {
                var own = lines.Where(l => l.StartsWith(writer.Name + " ", StringComparison.Ordinal)).ToList();
                var expected = Enumerable.Range(1, Lines).Select(i => $"{writer.Name} {i}").ToList();
                if (!own.SequenceEqual(expected))
                {
                    var missing = expected.Except(own).ToList();
                    problems.Add($"{writer.Name}'s lines: {own.Count} of {Lines}, {missing.Count} missing (first: {string.Join(", ", missing.Take(5))}), {own.Count - own.Distinct().Count()} twice");
                }
            }
            var foreign = lines.Where(l => !l.StartsWith(b.Name + " ", StringComparison.Ordinal) && !l.StartsWith(c.Name + " ", StringComparison.Ordinal)).ToList();
            if (foreign.Count > 0) problems.Add($"{foreign.Count} torn or foreign lines (first: {foreign[0]})");
            Assert.True(problems.Count == 0, $"on {node.Name}, {lines.Length} lines:\n{string.Join('\n', problems)}");
        }
    }

    /// <summary>
    /// Two processes, on b and c, keep one log open each, opened without O_APPEND and switched to it with
    /// fcntl(F_SETFL), as a logger that sets its flags after the open does; they take turns writing a line and
    /// fsyncing it, each turn beginning once the writer's node has applied the other's line. The kernel appends at its
    /// cached size, which the other node's line left behind; only the file's flags at the write (fuse_write_in.flags)
    /// say that the write is an append: the flags of the open do not. Before that every line landed over the other
    /// node's previous one.
    /// </summary>
    [Fact]
    public void Lines_appended_in_turn_on_two_nodes_through_descriptors_switched_to_O_APPEND_by_fcntl_are_all_there_in_order()
    {
        var (a, b, c) = Three();
        const int Lines = 60;
        File.WriteAllText(On(a, "fcntl-append.log"), "");
        Assert.NotNull(Poll.Until(() => File.Exists(On(b, "fcntl-append.log")) && File.Exists(On(c, "fcntl-append.log")), Visible));

        using var onB = Descriptor.Open(On(b, "fcntl-append.log"), Descriptor.O_WRONLY);
        using var onC = Descriptor.Open(On(c, "fcntl-append.log"), Descriptor.O_WRONLY);
        onB.AddStatusFlags(Descriptor.O_APPEND);
        onC.AddStatusFlags(Descriptor.O_APPEND);
        Assert.True((onB.StatusFlags() & Descriptor.O_APPEND) != 0 && (onC.StatusFlags() & Descriptor.O_APPEND) != 0);
        var newest = AppliedVersion.Of(a.DataDir);
        for (var i = 1; i <= Lines; i++)
        {
            var (writer, descriptor) = i % 2 == 1 ? (b, onB) : (c, onC);
            var reached = AppliedVersion.WaitFor(writer.DataDir, newest, Visible);
            Assert.True(reached >= newest, $"{writer.Name} applied {reached}, not {newest}, before line {i}");
            descriptor.Write(System.Text.Encoding.ASCII.GetBytes($"line {i}\n"));
            descriptor.Fsync();
            newest = AppliedVersion.Of(writer.DataDir);
        }
        onB.Dispose();
        onC.Dispose();

        var expected = string.Concat(Enumerable.Range(1, Lines).Select(i => $"line {i}\n"));
        foreach (var node in new[] { a, b, c })
        {
            Assert.NotNull(Poll.Until(() => AppliedVersion.Of(node.DataDir) >= newest, Visible));
            Assert.Equal(expected, File.ReadAllText(On(node, "fcntl-append.log")));
        }
    }

    [Fact]
    public async Task Two_rm_rf_of_one_tree_on_two_nodes_at_once_both_succeed_and_leave_nothing()
    {
        var (a, b, c) = Three();
        for (var d = 0; d < 30; d++)
        {
            Directory.CreateDirectory(On(a, $"rmrf/d{d}/sub"));
            for (var f = 0; f < 30; f++) File.WriteAllText(On(a, $"rmrf/d{d}/sub/f{f}"), "x");
        }
        Assert.NotNull(Poll.Until(() => File.Exists(On(b, "rmrf/d29/sub/f29")), Visible));

        // Each walks the tree through directory descriptors and removes what it finds; the other empties and removes
        // directories under it. Natively (two processes, one tree) both exit 0 with nothing on stderr.
        var removals = new[] { a, b }.Select(n => Task.Run(() => Tool.TryRun("rm", ["-rf", On(n, "rmrf")], TimeSpan.FromSeconds(120)))).ToArray();
        var results = await Task.WhenAll(removals);
        foreach (var r in results)
        {
            Assert.True(r.ExitCode == 0 && r.Stderr.Length == 0, r.ToString());
        }
        foreach (var node in new[] { a, b, c })
        {
            Assert.NotNull(Poll.Until(() => !Directory.Exists(On(node, "rmrf")), Visible));
        }
    }

    /// <summary>
    /// `tar c` on c while b's `rm -rf` removes the same tree, which c walked first (its kernel keeps the names). Natively
    /// tar warns "File removed before we read it" and "file changed as we read it", or "Cannot stat: No such file or
    /// directory"; an ESTALE from the mount (the fstat of a directory tar holds open, answered between the removal's
    /// publication and its listener) printed "Cannot stat: Stale file handle". Three rounds, tar starting at different
    /// depths of the removal.
    /// </summary>
    [Fact]
    public async Task Tar_on_one_node_during_rm_rf_of_the_tree_on_another_never_sees_a_stale_file_handle()
    {
        var (a, b, c) = Three();
        foreach (var round in new[] { 0, 5, 12 })
        {
            var root = $"tarrm{round}";
            Sh($"cd {On(a, "")} && for d in $(seq 0 19); do mkdir -p {root}/d$d/sub && (cd {root}/d$d/sub && for f in $(seq 0 19); do head -c $((d * 20 + f)) /dev/zero > f$f; done; ln -s f0 l); done");
            Assert.NotNull(Poll.Until(() => File.Exists(On(b, $"{root}/d19/sub/f19")) && File.Exists(On(c, $"{root}/d19/sub/f19")), Visible));
            Sh($"find {On(c, root)} > /dev/null");

            var removal = Task.Run(() => Tool.TryRun("rm", ["-rf", On(b, root)], TimeSpan.FromSeconds(120)));
            // tar begins once the removal has reached directory d{round} (rm -rf goes in listing order, not by name, so
            // this is only roughly how far it got).
            Assert.NotNull(Poll.Until(() => !File.Exists(On(c, $"{root}/d{round}/sub/f0")) || removal.IsCompleted, Visible, TimeSpan.FromMilliseconds(5)));
            var tar = Tool.TryRun("tar", ["-cf", "/dev/null", "-C", On(c, ""), root], TimeSpan.FromSeconds(120));
            var removed = await removal;

            Assert.True(removed.ExitCode == 0 && removed.Stderr.Length == 0, removed.ToString());
            Assert.True(tar.ExitCode is 0 or 1 or 2, tar.ToString());
            Assert.DoesNotContain("Stale file handle", tar.Stderr);
            _output.WriteLine($"round {round}: tar exit {tar.ExitCode}, {tar.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length} warnings");
        }
    }

    [Fact]
    public void An_open_after_another_node_removed_the_file_finds_nothing_and_one_from_before_reads_it_whole()
    {
        var (a, b, c) = Three();
        const int Files = 100;
        Directory.CreateDirectory(On(a, "removed"));
        var contents = Enumerable.Range(0, Files).Select(i =>
        {
            var bytes = new byte[500 + i * 97];
            new Random(i).NextBytes(bytes);
            File.WriteAllBytes(On(a, $"removed/f{i}"), bytes);
            return bytes;
        }).ToList();
        // c looks every file up first (its kernel keeps the names, as a walk by find or tar leaves them), and opens the
        // even ones before they go.
        Assert.NotNull(Poll.Until(() => File.Exists(On(c, $"removed/f{Files - 1}")), Visible));
        Assert.NotNull(Poll.Until(() => File.Exists(On(b, $"removed/f{Files - 1}")), Visible));
        for (var i = 0; i < Files; i++) _ = new FileInfo(On(c, $"removed/f{i}")).Length;
        var early = Enumerable.Range(0, Files).Where(i => i % 2 == 0).ToDictionary(i => i, i => File.OpenRead(On(c, $"removed/f{i}")));

        var foundAfterRemoval = new ConcurrentBag<int>();
        try
        {
            for (var i = 0; i < Files; i++)
            {
                File.Delete(On(b, $"removed/f{i}"));
                if (i % 2 == 1 && TryOpen(On(c, $"removed/f{i}")) is { } late)
                {
                    late.Dispose();
                    foundAfterRemoval.Add(i);
                }
            }
            // Removal is committed before unlink returns: an open that begins afterwards, anywhere, must not find it.
            Assert.True(foundAfterRemoval.IsEmpty,
                $"{foundAfterRemoval.Count} of {Files / 2} files opened on {c.Name} after {b.Name} removed them, e.g. f{string.Join(", f", foundAfterRemoval.Take(5))}");
            // Deleted while open: the descriptors from before read every byte.
            foreach (var (i, stream) in early)
            {
                using var reader = new MemoryStream();
                stream.CopyTo(reader);
                Assert.True(reader.ToArray().AsSpan().SequenceEqual(contents[i]), $"f{i}, open on {c.Name} before the removal, read {reader.Length} bytes of {contents[i].Length}");
            }
        }
        finally
        {
            foreach (var stream in early.Values) stream.Dispose();
        }
    }

    private static FileStream? TryOpen(string path)
    {
        try
        {
            return File.OpenRead(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Runs a bash script; fails with its output unless it exits 0; its stdout.</summary>
    private static string Sh(string script, TimeSpan? timeout = null) => Tool.Run("bash", ["-c", script], timeout ?? TimeSpan.FromSeconds(60)).Stdout;

    private static void Need(params string[] programs)
    {
        foreach (var program in programs)
        {
            if (Requirement.Which(program) is null) Requirement.Unavailable($"{program} is not installed (scripts/install-deps.sh installs it)");
        }
    }

    public void Dispose()
    {
        if (TestContext.Current.TestState?.Result is TestResult.Failed)
        {
            _output.WriteLine(_shared.Diagnostics());
        }
        // rm, not Directory.Delete: .NET cannot name a file whose name is not UTF-8 (the tree has one).
        Tool.TryRun("rm", ["-rf", _scratch], TimeSpan.FromSeconds(60));
    }
}
