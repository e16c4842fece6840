using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// One shared tree on three real dino-nodes (127.0.0.11-13): a change made through any mount is committed once, in one
/// order, and shows on the other mounts without remounting. The tests that only add names of their own share one
/// cluster (<see cref="ClassCluster"/>, run first); the tests that kill, stop, remove or add a node form their own.
/// </summary>
[TestCaseOrderer(typeof(SharedClusterFirst))]
public sealed partial class SharedTreeTests : IClassFixture<ClassCluster>, IDisposable
{
    /// <summary>How long a change may take to show on another node in these tests (the benchmark measures the real delay).</summary>
    private static readonly TimeSpan Visible = TimeSpan.FromSeconds(5);

    private readonly ClassCluster _shared;
    private readonly ITestOutputHelper _output;

    /// <summary>This test's own cluster (the nodes of <see cref="FormThree"/>; its temp dir serves the others too).</summary>
    private readonly TestCluster _own;

    /// <summary>The cluster the test runs on: its own, or the shared one.</summary>
    private TestCluster _cluster;

    public SharedTreeTests(ClassCluster shared, ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        _shared = shared;
        _output = output;
        _own = new TestCluster(output);
        _cluster = _own;
    }

    /// <summary>Three nodes of this test's own (the shared cluster is killed first, so its idle nodes do not load the machine).</summary>
    private NodeProcess[] FormThree(params string[] options)
    {
        _shared.Release();
        var nodes = new[] { _cluster.Add("n1", "127.0.0.11"), _cluster.Add("n2", "127.0.0.12"), _cluster.Add("n3", "127.0.0.13") };
        _cluster.FormWith(options, nodes);
        _cluster.WaitForVoters(nodes, 3);
        return nodes;
    }

    /// <summary>The class's shared three nodes (formed on first use).</summary>
    private NodeProcess[] SharedThree()
    {
        var (cluster, nodes) = _shared.Get(c =>
        {
            var three = new[] { c.Add("n1", "127.0.0.11"), c.Add("n2", "127.0.0.12"), c.Add("n3", "127.0.0.13") };
            c.Form(three);
            return three;
        });
        _cluster = cluster;
        return nodes;
    }

    private static string On(NodeProcess node, string relative) => Path.Combine(node.MountPoint, relative);

    /// <summary>Waits until <paramref name="check"/> holds on each of <paramref name="nodes"/>; returns the slowest delay.</summary>
    private TimeSpan SeenOn(IEnumerable<NodeProcess> nodes, string what, Func<NodeProcess, bool> check, TimeSpan? within = null, TimeSpan? every = null)
    {
        var limit = within ?? Visible;
        var slowest = TimeSpan.Zero;
        foreach (var node in nodes)
        {
            var took = Poll.Until(() =>
            {
                try
                {
                    return check(node);
                }
                catch (IOException)
                {
                    return false;
                }
            }, limit, every ?? TimeSpan.FromMilliseconds(5));
            Check.True(took is not null, () => $"{what}: not seen on {node.Name} within {limit.TotalSeconds} s\n{_cluster.Diagnostics()}");
            if (took > slowest) slowest = took.Value;
        }
        _cluster.Log($"{what}: seen everywhere after {slowest.TotalMilliseconds:F0} ms");
        return slowest;
    }

    [Fact]
    [SharedCluster]
    public void A_change_on_one_mount_is_seen_on_the_other_two_without_remounting()
    {
        var (a, b, c) = SharedThree() switch { var n => (n[0], n[1], n[2]) };
        var others = new[] { b, c };

        Directory.CreateDirectory(On(a, "docs"));
        SeenOn(others, "mkdir", n => Directory.Exists(On(n, "docs")));

        File.WriteAllText(On(b, "docs/note.txt"), "written on b\n");
        SeenOn([a, c], "create + write", n => File.Exists(On(n, "docs/note.txt")) && File.ReadAllText(On(n, "docs/note.txt")) == "written on b\n");

        File.AppendAllText(On(c, "docs/note.txt"), "appended on c\n");
        SeenOn([a, b], "append", n => File.ReadAllText(On(n, "docs/note.txt")) == "written on b\nappended on c\n");

        File.Move(On(a, "docs/note.txt"), On(a, "docs/renamed.txt"));
        SeenOn(others, "rename", n => File.Exists(On(n, "docs/renamed.txt")) && !File.Exists(On(n, "docs/note.txt")));

        File.SetUnixFileMode(On(b, "docs/renamed.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        SeenOn([a, c], "chmod", n => File.GetUnixFileMode(On(n, "docs/renamed.txt")) == (UnixFileMode.UserRead | UnixFileMode.UserWrite));

        Assert.Equal(0, Tool.TryRun("setfacl", ["-m", "u:nobody:r", On(c, "docs/renamed.txt")], TimeSpan.FromSeconds(20)).ExitCode);
        SeenOn([a, b], "setfacl", n => Tool.TryRun("getfacl", ["-c", On(n, "docs/renamed.txt")], TimeSpan.FromSeconds(10)).Stdout.Contains("user:nobody:r--", StringComparison.Ordinal));

        Assert.Equal(0, Tool.TryRun("ln", [On(a, "docs/renamed.txt"), On(a, "hard")], TimeSpan.FromSeconds(20)).ExitCode);
        SeenOn(others, "hard link", n => File.Exists(On(n, "hard")) && Stat(On(n, "docs/renamed.txt")).Contains("links 2", StringComparison.Ordinal));

        File.Delete(On(b, "hard"));
        SeenOn([a, c], "unlink", n => !File.Exists(On(n, "hard")) && Stat(On(n, "docs/renamed.txt")).Contains("links 1", StringComparison.Ordinal));
    }

    private static string Stat(string path) => "links " + Tool.TryRun("stat", ["-c", "%h", path], TimeSpan.FromSeconds(10)).Stdout.Trim();

    [Fact]
    [SharedCluster]
    public async Task The_same_name_created_on_two_nodes_at_once_has_exactly_one_winner()
    {
        var (a, b, _) = SharedThree() switch { var n => (n[0], n[1], n[2]) };
        for (var round = 0; round < 20; round++)
        {
            var name = $"race{round}";
            using var start = new Barrier(2);
            var results = new int[2];
            var racers = new[] { a, b }.Select((node, i) => Task.Run(() =>
            {
                start.SignalAndWait();
                results[i] = round % 2 == 0 ? Fs.Mkdir(On(node, name)) : Fs.CreateExclusive(On(node, name), "x"u8);
            })).ToArray();
            await Task.WhenAll(racers);
            Assert.True(results.Count(r => r == 0) == 1 && results.Count(r => r == Fs.EEXIST) == 1,
                $"round {round}: errnos {results[0]} and {results[1]}; expected one success and one EEXIST");
        }
    }

    [Fact]
    public async Task Killing_the_holder_under_a_stream_of_creates_loses_no_acknowledged_create()
    {
        var nodes = FormThree();
        var holder = WaitForHolder(nodes);
        var writers = nodes.Where(n => n != holder).ToArray();
        _cluster.Log($"holder is {holder.Name}; creating on {string.Join(", ", writers.Select(w => w.Name))}");

        var acknowledged = new ConcurrentBag<string>();
        var failures = new ConcurrentBag<string>();
        var afterKill = new ConcurrentBag<string>();
        var killed = new ManualResetEventSlim();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        var streams = writers.Select(w => Task.Run(() =>
        {
            for (var i = 0; i < 100_000 && !stop.IsCancellationRequested; i++)
            {
                var name = $"{w.Name}-{i}";
                var errno = Fs.CreateExclusive(On(w, name), "a"u8);
                if (errno == 0)
                {
                    acknowledged.Add(name);
                    if (killed.IsSet) afterKill.Add(name);
                    if (afterKill.Count > 200) return;
                }
                else failures.Add($"{name}: errno {errno}");
            }
        })).ToArray();

        Assert.True(Poll.Until(() => acknowledged.Count >= 100, TimeSpan.FromSeconds(30)) is not null, "the stream never got going");
        var killedAt = Stopwatch.StartNew();
        holder.Kill9();
        killed.Set();
        await Task.WhenAll(streams);
        _cluster.Log($"{acknowledged.Count} creates acknowledged, {afterKill.Count} after the kill, {failures.Count} failed ({string.Join("; ", failures.Take(3))})");
        Check.True(!afterKill.IsEmpty, () => $"no create succeeded after the holder was killed\n{_cluster.Diagnostics()}");
        var newHolder = WaitForHolder(writers);
        Assert.NotEqual(holder, newHolder);

        holder.Start();
        foreach (var node in nodes)
        {
            SeenOn([node], $"all {acknowledged.Count} acknowledged creates on {node.Name}", n => acknowledged.All(name => File.Exists(On(n, name))));
        }
        AssertSameState(nodes);
    }

    /// <summary>
    /// The idle lease (protocol.md): once nothing is written, the holder renews the lease four times less often and the
    /// voters wait four times longer. A holder killed then is still replaced, a survivor's write succeeds once it is
    /// (within the stretched timeout, well inside the commit timeout), and nothing acknowledged before the kill is lost.
    /// </summary>
    [Fact]
    public void Killing_the_holder_of_an_idle_log_loses_no_acknowledged_file_and_the_survivors_write_again()
    {
        var nodes = FormThree();
        var holder = WaitForHolder(nodes);
        var writer = nodes.First(n => n != holder);
        var acknowledged = Enumerable.Range(0, 20).Select(i => $"idle-{i}").ToList();
        foreach (var name in acknowledged) Assert.Equal(0, Fs.CreateExclusive(On(writer, name), "a"u8));

        // Nothing written for a while: the holder and every voter are on the idle pace (status says so).
        SeenOn(nodes, "the idle lease", n => n.Status().GetProperty("quorum").GetString()!.Contains("log idle", StringComparison.Ordinal),
            within: TimeSpan.FromSeconds(20));

        holder.Kill9();
        var killed = Stopwatch.StartNew();
        var survivors = nodes.Where(n => n != holder).ToArray();
        // The mkdir waits for the new holder (the commit timeout is 10 s; the idle lease's fail-over takes 2-5 s).
        Assert.Equal(0, Fs.Mkdir(On(writer, "after-the-kill")));
        _cluster.Log($"mkdir after kill -9 of the idle holder returned after {killed.Elapsed.TotalSeconds:F2} s");
        Assert.NotEqual(holder, WaitForHolder(survivors));
        foreach (var node in survivors)
        {
            SeenOn([node], $"every file acknowledged before the kill on {node.Name}", n => acknowledged.All(name => File.Exists(On(n, name))) && Directory.Exists(On(n, "after-the-kill")));
        }

        holder.Start();
        AssertSameState(nodes);
    }

    [Fact]
    public async Task Stopping_the_holder_hands_the_lease_over_and_creates_go_on_without_an_error()
    {
        var nodes = FormThree();
        var holder = WaitForHolder(nodes);
        var writer = nodes.First(n => n != holder);
        var acknowledged = new ConcurrentBag<string>();
        var failures = new ConcurrentBag<string>();
        var afterStop = 0;
        var stopped = new ManualResetEventSlim();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stream = Task.Run(() =>
        {
            for (var i = 0; i < 100_000 && !deadline.IsCancellationRequested; i++)
            {
                var name = $"{writer.Name}-{i}";
                var errno = Fs.CreateExclusive(On(writer, name), "a"u8);
                if (errno != 0) failures.Add($"{name}: errno {errno}");
                else
                {
                    acknowledged.Add(name);
                    if (stopped.IsSet && Interlocked.Increment(ref afterStop) >= 200) return;
                }
            }
        });

        Assert.True(Poll.Until(() => acknowledged.Count >= 100, TimeSpan.FromSeconds(30)) is not null, "the stream never got going");
        Assert.Equal(0, holder.Terminate(TimeSpan.FromSeconds(30)));
        stopped.Set();
        await stream;
        _cluster.Log($"{acknowledged.Count} creates acknowledged, {afterStop} after the holder stopped, {failures.Count} failed");

        // The stopping holder named its successor, and that voter holds the lease now.
        var handOff = holder.Daemon!.Lines.Select(l => l.Text).FirstOrDefault(t => t.Contains("handing the lease to", StringComparison.Ordinal));
        Check.True(handOff is not null, () => $"{holder.Name} stopped without handing the lease over\n{_cluster.Diagnostics()}");
        // The named voter took the lease (it may pass it on afterwards: the lease follows the busiest writer).
        var survivors = nodes.Where(n => n != holder).ToArray();
        WaitForHolder(survivors);
        var successor = survivors.Single(n => handOff.Contains(n.PeerId![..12], StringComparison.Ordinal));
        Check.True(successor.Daemon!.Lines.Any(l => l.Text.Contains("this node holds the lease", StringComparison.Ordinal)),
            () => $"{successor.Name} was named but never held the lease\n{_cluster.Diagnostics()}");
        Assert.True(failures.IsEmpty, $"creates failed while the lease moved: {string.Join("; ", failures.Take(5))}");
        Assert.True(afterStop > 0, "no create succeeded after the holder stopped");

        holder.Start();
        AssertSameState(nodes);
    }

    [Fact]
    [SharedCluster]
    public void A_git_repository_written_on_one_node_is_clean_on_another_and_clones_from_it()
    {
        var nodes = SharedThree();
        var (writer, reader) = (nodes[0], nodes[1]);
        var repo = On(writer, "repo");
        Git(writer.MountPoint, "init", "-q", "repo");
        Directory.CreateDirectory(Path.Combine(repo, "src"));
        var big = new byte[3 << 20];
        new Random(11).NextBytes(big);
        File.WriteAllBytes(Path.Combine(repo, "blob.bin"), big);
        for (var i = 0; i < 50; i++) File.WriteAllText(Path.Combine(repo, "src", $"f{i}.txt"), $"file {i}\n" + new string('x', i * 100));
        Git(repo, "add", "-A");
        Git(repo, "commit", "-q", "-m", "first");
        File.AppendAllText(Path.Combine(repo, "src", "f1.txt"), "more\n");
        Git(repo, "commit", "-q", "-am", "second");
        var head = Git(repo, "rev-parse", "HEAD").Trim();

        // Seen on the other node: the same HEAD, and a clean working tree (every file, the index and the objects agree).
        var there = On(reader, "repo");
        SeenOn([reader], "the repository's HEAD", _ => Git(there, "rev-parse", "HEAD").Trim() == head, TimeSpan.FromSeconds(15));
        Assert.Equal("", Git(there, "status", "--porcelain"));
        Git(there, "fsck", "--full");

        var clone = Path.Combine(_own.Root, "clone");
        Git(_own.Root, "clone", "-q", there, clone);
        Assert.Equal(head, Git(clone, "rev-parse", "HEAD").Trim());
        Assert.Equal(big, File.ReadAllBytes(Path.Combine(clone, "blob.bin")));
        Assert.Equal(File.ReadAllText(Path.Combine(repo, "src", "f1.txt")), File.ReadAllText(Path.Combine(clone, "src", "f1.txt")));
    }

    private static string Git(string workDir, params string[] args)
    {
        var r = Tool.TryRun("git", ["-c", "safe.directory=*", "-c", "user.name=dino", "-c", "user.email=dino@example.invalid", .. args], TimeSpan.FromSeconds(120), workDir);
        Assert.True(r.ExitCode == 0, $"git {string.Join(' ', args)} in {workDir}: {r}");
        return r.Stdout;
    }

    [Fact]
    public void A_node_added_to_a_cluster_with_10000_files_catches_up_and_serves_them()
    {
        var (a, b, _) = FormThree() switch { var n => (n[0], n[1], n[2]) };
        var made = Stopwatch.StartNew();
        // Sixteen directories at a time: the holder commits the creates of all of them in shared rounds.
        Concurrently.For(16, 100, d =>
        {
            var node = d % 2 == 0 ? a : b;
            Directory.CreateDirectory(On(node, $"d{d}"));
            for (var f = 0; f < 100; f++) File.WriteAllText(On(node, $"d{d}/f{f}"), $"{d}/{f}");
        });
        _cluster.Log($"10,000 files made in {made.Elapsed.TotalSeconds:F1} s");
        var late = _cluster.Add("n4", "127.0.0.14");
        late.Start(join: a.Endpoint, token: a.Cli("token").Stdout.Trim());
        // Catching up is the log (or a snapshot) of 20,000 entries, not one change: it gets longer than a propagation.
        // Polled every 50 ms, not 5: a listing every 5 ms takes CPU from the catch-up it waits for.
        SeenOn([late], "the 10,000 files on the new node", n => Directory.GetFiles(On(n, "d99")).Length == 100, TimeSpan.FromSeconds(120), TimeSpan.FromMilliseconds(50));
        Assert.Equal(10_000, Enumerable.Range(0, 100).Sum(d => Directory.GetFiles(On(late, $"d{d}")).Length));
        Assert.Equal("42/7", File.ReadAllText(On(late, "d42/f7")));
        AssertSameState([a, b, late]);
    }

    /// <summary>
    /// A node added after the holder compacted its log (a snapshot every 500 entries, DINOMESH_SNAPSHOT_EVERY) can only
    /// catch up by snapshot; with pieces of 4 KiB (DINOMESH_SNAPSHOT_PIECE_BYTES) the snapshot of 3,000 files travels as
    /// dozens of pieces, which the node assembles in a file, checks and installs, and then it serves every file.
    /// </summary>
    [Fact]
    public void A_node_added_after_compaction_catches_up_by_a_snapshot_in_many_pieces_and_serves_every_file()
    {
        const int pieceBytes = 4096;
        var env = new Dictionary<string, string?> { ["DINOMESH_SNAPSHOT_EVERY"] = "500", ["DINOMESH_SNAPSHOT_PIECE_BYTES"] = $"{pieceBytes}" };
        _shared.Release();
        var three = new[] { _cluster.Add("n1", "127.0.0.11"), _cluster.Add("n2", "127.0.0.12"), _cluster.Add("n3", "127.0.0.13") };
        _cluster.FormWith([], env, three);
        _cluster.WaitForVoters(three, 3);
        var (a, b) = (three[0], three[1]);
        Concurrently.For(8, 30, d =>
        {
            var node = d % 2 == 0 ? a : b;
            Directory.CreateDirectory(On(node, $"d{d}"));
            for (var f = 0; f < 100; f++) File.WriteAllText(On(node, $"d{d}/f{f}"), $"{d}/{f}");
        });
        _cluster.Log("3,000 files made");
        // Snapshots are written in the background; the second one drops the log before the first: wait for two on every
        // member, so the start of the log is gone wherever the holder may be.
        SeenOn(three, "two snapshots on every member", n => n.Daemon!.Lines.Count(l => l.Text.Contains("metadata: snapshot at version", StringComparison.Ordinal)) >= 2,
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));

        var late = _cluster.Add("n4", "127.0.0.14");
        late.Start(join: a.Endpoint, token: a.Cli("token").Stdout.Trim(), env: env);
        SeenOn([late], "the 3,000 files on the new node", n => Directory.GetFiles(On(n, "d29")).Length == 100, TimeSpan.FromSeconds(120), TimeSpan.FromMilliseconds(50));
        var wrong = new ConcurrentBag<string>();
        Concurrently.For(8, 30, d =>
        {
            for (var f = 0; f < 100; f++)
            {
                if (File.ReadAllText(On(late, $"d{d}/f{f}")) != $"{d}/{f}") wrong.Add($"d{d}/f{f}");
            }
        });
        Assert.True(wrong.IsEmpty, $"{wrong.Count} of 3,000 files read on the new node differ, e.g. {string.Join(", ", wrong.Take(5))}");

        // It came as a snapshot, in many pieces, assembled and installed (not replayed from the log).
        var sent = three.Select(n => n.Daemon!.FindLine(l => l.Contains("lease: sending a snapshot at version", StringComparison.Ordinal) && l.Contains(late.PeerId![..12], StringComparison.Ordinal)))
            .FirstOrDefault(l => l is not null);
        Check.True(sent is not null, () => $"no holder logged sending a snapshot to the new node\n{_cluster.Diagnostics()}");
        var bytes = long.Parse(SnapshotBytes().Match(sent.Text).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        _cluster.Log($"snapshot of {bytes} bytes sent in pieces of {pieceBytes}: {sent.Text}");
        Assert.True(bytes / pieceBytes >= 10, $"a snapshot of {bytes} bytes is only {bytes / pieceBytes + 1} pieces of {pieceBytes}: {sent.Text}");
        Assert.True(late.Daemon!.FindLine(l => l.Contains("lease: receiving a snapshot at version", StringComparison.Ordinal)) is not null, "the new node logged no snapshot coming in");
        Assert.True(late.Daemon!.FindLine(l => l.Contains("metadata: installed a snapshot at version", StringComparison.Ordinal)) is not null, "the new node logged no snapshot installed");
        Assert.False(File.Exists(Path.Combine(late.DataDir, "meta", "lease-snapshot-in.tmp")), "the assembled snapshot's temp file is still there");
        AssertSameState([a, b, late]);
    }

    [GeneratedRegex(@"\((\d+) bytes, pieces of")]
    private static partial Regex SnapshotBytes();

    [Fact]
    public void A_removed_member_is_refused_by_every_member()
    {
        // The removed node's mkdir fails once the commit timeout runs out: 4 s instead of the default 10 (what is
        // checked is that it fails, with ETIMEDOUT, not how long the timeout is).
        var (a, b, c) = FormThree("--commit-timeout", "4") switch { var n => (n[0], n[1], n[2]) };
        Directory.CreateDirectory(On(c, "before"));
        var removed = a.Cli("remove", c.PeerId![..16]);
        Assert.True(removed.ExitCode == 0, removed.ToString());
        // Every member refuses it: its metadata changes can no longer reach a holder, and the others see it fail.
        _cluster.WaitForViews([a, b], v => v.FirstOrDefault(p => p.Id == c.PeerId) is null or { State: "dead" or "left" }, TimeSpan.FromSeconds(60),
            "the removed member is no longer alive to the others");
        Assert.Equal(Fs.ETIMEDOUT, Fs.Mkdir(On(c, "after")));
        Assert.False(Directory.Exists(On(a, "after")));
        Assert.True(a.Daemon!.FindLine(l => l.Contains("was removed from the cluster", StringComparison.Ordinal)) is not null);
    }

    private NodeProcess WaitForHolder(IReadOnlyList<NodeProcess> candidates) => _cluster.WaitForHolder(candidates);

    /// <summary>Every node reaches the same version with the same state hash.</summary>
    private void AssertSameState(IReadOnlyList<NodeProcess> nodes)
    {
        string[] hashes = [];
        var took = Poll.Until(() =>
        {
            hashes = [.. Concurrently.Map(nodes, n => n.Cli("statehash").Stdout.Trim())];
            return hashes.Distinct().Count() == 1 && hashes[0].Length > 0;
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));
        Assert.True(took is not null, $"state hashes differ: {string.Join(" | ", hashes)}");
        _cluster.Log($"state hash equal on {nodes.Count} nodes: {hashes[0]}");
    }

    public void Dispose()
    {
        if (_cluster != _own && TestContext.Current.TestState?.Result is TestResult.Failed)
        {
            _output.WriteLine(_shared.Diagnostics());
        }
        _own.Dispose();
    }
}
