using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using DinoMesh.Node.Tests.Cluster;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Tests;

/// <summary>
/// Issue 7, item 7: a client with any self-signed certificate used to crash a node by completing TLS handshakes and
/// never sending the HTTP/2 preface; each such connection was kept for ever, and at the descriptor limit the node could
/// neither accept a member nor open a file. Here a node runs with a 1024-descriptor limit (prlimit) while thousands of
/// such connections come at it from 40 addresses; then its limit is squeezed below its open descriptors.
/// </summary>
public sealed class SilentConnectionFloodTests : IDisposable
{
    private const int DescriptorLimit = 1024;
    private const int Attempts = 3000;
    private const int Parallel = 16;
    private const int Sources = 40;
    // The node's default (ConnectionLimits.FirstRequestTimeout): keep in step.
    private static readonly TimeSpan FirstRequestTimeout = TimeSpan.FromSeconds(5);
    private readonly TestCluster _cluster;

    public SilentConnectionFloodTests(ITestOutputHelper output)
    {
        Requirement.RootAndFuse();
        if (Requirement.Which("prlimit") is null)
        {
            Requirement.Unavailable("prlimit (util-linux) is missing");
        }
        _cluster = new TestCluster(output);
    }

    [Fact]
    public async Task Thousands_of_silent_TLS_connections_leave_the_node_up_its_mount_working_and_members_getting_in()
    {
        var ct = TestContext.Current.CancellationToken;
        var a = _cluster.Add("a", "127.0.0.11", launcher: ["prlimit", $"--nofile={DescriptorLimit}:{DescriptorLimit}"]);
        var b = _cluster.Add("b", "127.0.0.12");
        var token = _cluster.Form(a, b);
        _cluster.WaitForViews([a, b], v => TestCluster.AllAlive(v, [a, b]), TimeSpan.FromSeconds(20), "a and b list each other alive");
        var pid = a.Daemon!.Pid;
        Assert.Contains($"Max open files            {DescriptorLimit}                 {DescriptorLimit}", File.ReadAllText($"/proc/{pid}/limits"), StringComparison.Ordinal);
        var node = new IPEndPoint(IPAddress.Parse(a.Host), a.Port);
        _cluster.Log($"a (pid {pid}) has {OpenDescriptors(pid)} descriptors open before the flood");

        // The flood runs in the background while the checks below run against the node.
        using var rogue = new RogueClient();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var held = new ConcurrentBag<SilentTlsClient>();
        var outcomes = new ConcurrentDictionary<SilentOutcome, int>();
        var attempts = 0;
        var mostDescriptors = 0;
        var clock = Stopwatch.StartNew();
        var flood = Task.WhenAll(Enumerable.Range(0, Parallel).Select(worker => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && Interlocked.Increment(ref attempts) <= Attempts)
            {
                var local = IPAddress.Parse($"127.0.0.{160 + (Volatile.Read(ref attempts) % Sources)}");
                try
                {
                    var (connection, outcome) = await rogue.OpenSilentAsync(node, local, TimeSpan.FromSeconds(10), stop.Token);
                    outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);
                    if (connection is not null) held.Add(connection);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }, ct)));
        var watcher = Task.Run(async () =>
        {
            while (!flood.IsCompleted)
            {
                var open = OpenDescriptors(pid);
                if (open > Volatile.Read(ref mostDescriptors)) Volatile.Write(ref mostDescriptors, open);
                await Task.Delay(100, ct);
            }
        }, ct);

        try
        {
            Assert.NotNull(Poll.Until(() => Volatile.Read(ref attempts) >= 1000 || flood.IsCompleted, TimeSpan.FromSeconds(120)));
            _cluster.Log($"{Math.Min(attempts, Attempts)} attempts so far ({Outcomes(outcomes)}); the node has {OpenDescriptors(pid)} descriptors open");

            // The mount keeps working...
            var file = Path.Combine(a.MountPoint, "under-flood.bin");
            var bytes = new byte[256 * 1024];
            Random.Shared.NextBytes(bytes);
            await File.WriteAllBytesAsync(file, bytes, ct);
            Assert.Equal(bytes, await File.ReadAllBytesAsync(file, ct));
            // ...and a newcomer, a stranger until it has joined, gets in and is reached as a member.
            var c = _cluster.Add("c", "127.0.0.13");
            c.Launch(join: a.Endpoint, token: token);
            c.WaitUntilUp();
            var all = new[] { a, b, c };
            _cluster.WaitForViews(all, v => TestCluster.AllAlive(v, all), TimeSpan.FromSeconds(30), "a, b and the newcomer list each other alive under the flood");
            // Issue 11: the admission is one line at the member that admitted it (the join gate used to log it too).
            // (A refusal of the newcomer's first dial, while the flood holds every stranger slot, names it too: not counted.)
            var admissions = a.Daemon.Lines.Count(l => l.Text.Contains($"admitted {c.PeerId![..12]}", StringComparison.Ordinal));
            Assert.Equal(1, admissions);
            _cluster.Log($"mount written and read, newcomer admitted and alive everywhere, {clock.Elapsed.TotalSeconds:F1} s into the flood");
        }
        finally
        {
            await flood.WaitAsync(TimeSpan.FromSeconds(300), ct);
            await watcher;
        }
        _cluster.Log($"flood done: {Math.Min(attempts, Attempts)} attempts in {clock.Elapsed.TotalSeconds:F1} s ({Outcomes(outcomes)}); most descriptors open at the node: {mostDescriptors}");

        Assert.False(a.Daemon.HasExited, "the node died under the flood");
        Assert.True(Math.Min(attempts, Attempts) >= 2000, $"only {attempts} attempts ran");
        Assert.InRange(mostDescriptors, 1, DescriptorLimit - 100);
        Assert.True(outcomes.GetValueOrDefault(SilentOutcome.Refused) > 0, "no connection was refused: the caps never bit");
        Assert.Equal(0, outcomes.GetValueOrDefault(SilentOutcome.Hung));

        // Every connection that got in is closed by the node once it has said nothing for the first-request deadline.
        var stillOpen = 0;
        var closing = Stopwatch.StartNew();
        foreach (var connection in held)
        {
            var left = FirstRequestTimeout + TimeSpan.FromSeconds(15) - closing.Elapsed;
            stillOpen += await connection.ClosedByServerAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1), ct) ? 0 : 1;
            await connection.DisposeAsync();
        }
        // "Got in" counts over the whole flood: the node keeps few at a time (see the descriptors) and closes them.
        _cluster.Log($"{held.Count} connections had got in; {stillOpen} were still open {closing.Elapsed.TotalSeconds:F1} s after the flood");
        Assert.Equal(0, stillOpen);

        // A few lines tell the operator what happened, not one per connection.
        var refusalLines = a.Daemon.Lines.Count(l => l.Text.Contains("refused a connection", StringComparison.Ordinal));
        var closeLines = a.Daemon.Lines.Count(l => l.Text.Contains("closed the connection", StringComparison.Ordinal));
        _cluster.Log($"a logged {refusalLines} refusal lines and {closeLines} closing lines for {Math.Min(attempts, Attempts)} attempts; {a.Daemon.Lines.Count} lines in all");
        Assert.InRange(refusalLines, 1, 2 * Sources);
        Assert.InRange(closeLines, 0, 2 * Sources);
    }

    [Fact]
    public async Task Out_of_descriptors_the_node_refuses_connections_and_recovers_when_they_return()
    {
        var ct = TestContext.Current.CancellationToken;
        var a = _cluster.Add("a", "127.0.0.11", launcher: ["prlimit", $"--nofile={DescriptorLimit}:{DescriptorLimit}"]);
        var b = _cluster.Add("b", "127.0.0.12");
        _cluster.Form(a, b);
        _cluster.WaitForViews([a, b], v => TestCluster.AllAlive(v, [a, b]), TimeSpan.FromSeconds(20), "a and b list each other alive");
        var pid = a.Daemon!.Pid;
        var node = new IPEndPoint(IPAddress.Parse(a.Host), a.Port);
        using var rogue = new RogueClient();

        // Squeeze: the soft limit drops to 12 descriptors above those the node has open (and above its reserve, the
        // /dev/null descriptors it holds back for this moment). Silent connections that get in keep theirs; once an
        // accepted connection would leave fewer than 8 free, the node must refuse at once, give its reserve back, and
        // neither hang its clients nor die. (The runtime aborts, "Out of memory.", when it starts a thread and finds no
        // descriptor free, so the node keeps the last few for it. A limit lowered to within a few descriptors of the
        // open count, with nothing arriving, is met by the node's once-a-second check, which gives the reserve back and
        // logs it; but in that second the runtime may need more than is left, as it did twice in CI at 0 and at 3 free,
        // so that case is not a test: it was shown by hand, see docs/protocol.md.)
        var squeeze = LimitLeavingFree(pid, 12, above: HighestDevNull(pid));
        var outcomes = new Dictionary<SilentOutcome, int>();
        var kept = new List<SilentTlsClient>();
        SetDescriptorLimit(a, squeeze);
        try
        {
            for (var i = 0; i < 300 && outcomes.GetValueOrDefault(SilentOutcome.Refused) < 5 && outcomes.GetValueOrDefault(SilentOutcome.Hung) == 0; i++)
            {
                var (connection, outcome) = await rogue.OpenSilentAsync(node, IPAddress.Parse($"127.0.0.{201 + (i % 50)}"), TimeSpan.FromSeconds(10), ct);
                if (connection is not null) kept.Add(connection);
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            }
        }
        finally
        {
            SetDescriptorLimit(a, DescriptorLimit);
            foreach (var connection in kept) await connection.DisposeAsync();
        }
        _cluster.Log($"soft limit squeezed to {squeeze}: {string.Join(", ", outcomes.Select(o => $"{o.Key.ToString().ToLowerInvariant()} {o.Value}"))}");

        Assert.False(a.Daemon.HasExited, "the node died out of descriptors");
        Assert.Equal(0, outcomes.GetValueOrDefault(SilentOutcome.Hung));
        Assert.Equal(5, outcomes.GetValueOrDefault(SilentOutcome.Refused));
        // (Waited for, not looked up: on a loaded machine the node's output reaches the test late.)
        Assert.NotNull(a.Daemon.WaitForLine(l => l.Contains("out of file descriptors", StringComparison.Ordinal), TimeSpan.FromSeconds(10)));

        // Descriptors back: the node serves new connections, its CLI and its mount again.
        var (after, afterOutcome) = await rogue.OpenSilentAsync(node, IPAddress.Parse("127.0.0.201"), TimeSpan.FromSeconds(10), ct);
        if (after is not null) await after.DisposeAsync();
        Assert.Equal(SilentOutcome.Open, afterOutcome);
        var file = Path.Combine(a.MountPoint, "after-squeeze");
        await File.WriteAllTextAsync(file, "still here", ct);
        Assert.Equal("still here", await File.ReadAllTextAsync(file, ct));
        _cluster.WaitForViews([a, b], v => TestCluster.AllAlive(v, [a, b]), TimeSpan.FromSeconds(20), "a and b still list each other alive");
    }

    /// <summary>Sets the node's soft descriptor limit; if the node is gone, says how it ended instead of only that prlimit failed.</summary>
    private static void SetDescriptorLimit(NodeProcess node, int soft)
    {
        var daemon = node.Daemon!;
        if (daemon.HasExited || Tool.TryRun("prlimit", ["--pid", daemon.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), $"--nofile={soft}:{DescriptorLimit}"]).ExitCode != 0)
        {
            var code = daemon.WaitForExit(TimeSpan.FromSeconds(5));
            // Its last words may still sit in the pipes (a loaded machine reads them late): give the readers time.
            Thread.Sleep(TimeSpan.FromSeconds(3));
            var tail = string.Join('\n', daemon.Lines.TakeLast(40).Select(l => l.Text));
            Assert.Fail($"node {node.Name} exited (code {code?.ToString() ?? "unknown"}) before its descriptor limit could be set to {soft}; its last lines:\n{tail}");
        }
    }

    private static int OpenDescriptors(int pid)
    {
        try
        {
            return Directory.GetFiles($"/proc/{pid}/fd").Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>
    /// The soft limit under which exactly <paramref name="free"/> descriptor numbers are unused (counting from the
    /// lowest, as the kernel hands them out), and that still covers descriptor <paramref name="above"/>.
    /// </summary>
    private static int LimitLeavingFree(int pid, int free, int above)
    {
        var used = Directory.GetFiles($"/proc/{pid}/fd").Select(f => int.Parse(Path.GetFileName(f), System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        var n = 0;
        for (var left = free; left > 0 || n <= above; n++)
        {
            if (!used.Contains(n)) left--;
        }
        return n;
    }

    /// <summary>The highest descriptor open on /dev/null: the listener's reserve (opened after the runtime's own).</summary>
    private static int HighestDevNull(int pid) =>
        Directory.GetFiles($"/proc/{pid}/fd")
            .Where(f => new FileInfo(f).LinkTarget == "/dev/null")
            .Select(f => int.Parse(Path.GetFileName(f), System.Globalization.CultureInfo.InvariantCulture))
            .DefaultIfEmpty(-1)
            .Max();

    private static string Outcomes(ConcurrentDictionary<SilentOutcome, int> outcomes) =>
        string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key.ToString().ToLowerInvariant()} {o.Value}"));

    public void Dispose() => _cluster.Dispose();
}
