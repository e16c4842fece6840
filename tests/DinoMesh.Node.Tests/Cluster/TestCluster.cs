using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DinoMesh.Node.Tests.Support;

namespace DinoMesh.Node.Tests.Cluster;

/// <summary>
/// The nodes of one test, under one temp dir, all on one port (each node has its own address). Disposing kills every
/// node (SIGKILL, all at once: no test checks a stop made here), lazily unmounts every mount, prints the node logs
/// when the test failed and deletes the temp dir, whatever state the test left.
/// </summary>
public sealed class TestCluster : IDisposable
{
    private readonly List<NodeProcess> _nodes = [];
    private readonly ITestOutputHelper? _output;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>
    /// A cluster for one test (<paramref name="output"/> given: node logs are printed when the test fails) or for a
    /// class fixture (null: lines go to the current test's output, and <see cref="Diagnostics"/> is for the test to print).
    /// </summary>
    public TestCluster(ITestOutputHelper? output, int? port = null, IReadOnlyList<string>? hostsToCheck = null)
    {
        _output = output;
        Root = Directory.CreateTempSubdirectory("dinomesh-cluster-").FullName;
        Port = port ?? FreePort(hostsToCheck ?? ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"]);
    }

    public string Root { get; }

    /// <summary>The peer port every node of this cluster listens on (at its own address).</summary>
    public int Port { get; }

    public IReadOnlyList<NodeProcess> Nodes => _nodes;

    /// <summary>A node at <paramref name="host"/>, not started; <paramref name="launcher"/> prefixes the command (e.g. nsenter).</summary>
    public NodeProcess Add(string name, string host, IReadOnlyList<string>? launcher = null)
    {
        var node = new NodeProcess(name, Root, host, Port, launcher);
        _nodes.Add(node);
        return node;
    }

    /// <summary>
    /// Founds a cluster on the first node and joins the others through it with the printed credential (started
    /// together, then awaited), and returns the credential.
    /// </summary>
    public string Form(params NodeProcess[] nodes) => FormWith([], nodes);

    /// <summary><see cref="Form"/>, every node started with <paramref name="options"/> after the usual arguments.</summary>
    public string FormWith(string[] options, params NodeProcess[] nodes) => FormWith(options, null, nodes);

    /// <summary><see cref="FormWith(string[], NodeProcess[])"/>, every node started with <paramref name="env"/> in its environment too.</summary>
    public string FormWith(string[] options, IReadOnlyDictionary<string, string?>? env, params NodeProcess[] nodes)
    {
        var founder = nodes[0];
        founder.Launch(env: env, extra: options);
        founder.WaitUntilUp();
        var token = founder.PrintedToken();
        foreach (var n in nodes.Skip(1))
        {
            n.Launch(join: founder.Endpoint, token: token, env: env, extra: options);
        }
        foreach (var n in nodes.Skip(1))
        {
            n.WaitUntilUp();
        }
        Log($"formed {string.Join(", ", nodes.Select(n => $"{n.Name}={n.Endpoint}/{n.PeerId![..12]}"))}");
        return token;
    }

    /// <summary>
    /// Waits (bounded) until a holder among <paramref name="nodes"/> counts at least <paramref name="voters"/> voters: voters are
    /// promoted one at a time after the joins, and a test that kills or cuts off a node of a three-voter cluster must
    /// not start while only two vote (losing one of two leaves no majority at all).
    /// </summary>
    public void WaitForVoters(IReadOnlyList<NodeProcess> nodes, int voters)
    {
        static int Counted(string? quorum) =>
            quorum is not null && System.Text.RegularExpressions.Regex.Match(quorum, @"\((\d+) voters\)") is { Success: true } m ? int.Parse(m.Groups[1].Value) : 0;
        // A node that does not answer this once (busy, or its control socket not yet listening) is asked again; one
        // that died shows in the diagnostics of the failure.
        static string? QuorumOf(NodeProcess n)
        {
            try
            {
                return n.Status().TryGetProperty("quorum", out var q) ? q.GetString() : null;
            }
            catch (InvalidOperationException)
            {
                return null;
            }
        }
        var took = Poll.Until(() => Concurrently.Map(nodes.Where(n => n.IsRunning).ToList(), QuorumOf).Any(q => Counted(q) >= voters),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        Check.True(took is not null, () => $"no holder counted {voters} voters within 60 s\n{Diagnostics()}");
        Log($"{voters} voters after {took!.Value.TotalMilliseconds:F0} ms");
    }

    /// <summary>
    /// Polls <c>peers --json</c> on each observer until <paramref name="holds"/> is true for all of them, and returns
    /// how long that took; fails with every observer's last view at the deadline. <paramref name="onView"/> sees every
    /// view read on the way (to catch a state that must never appear).
    /// </summary>
    public TimeSpan WaitForViews(IEnumerable<NodeProcess> observers, Func<IReadOnlyList<PeerEntry>, bool> holds, TimeSpan timeout,
        string what, Action<NodeProcess, IReadOnlyList<PeerEntry>>? onView = null)
    {
        var watched = observers.ToList();
        var last = new Dictionary<string, IReadOnlyList<PeerEntry>>();
        var took = Poll.Until(() =>
        {
            // Every observer's view at once (each is a CLI process), then judged in order.
            var views = Concurrently.Map(watched, o => o.Peers());
            var all = true;
            for (var i = 0; i < watched.Count; i++)
            {
                var (o, view) = (watched[i], views[i]);
                last[o.Name] = view;
                onView?.Invoke(o, view);
                all &= holds(view);
            }
            return all;
        }, timeout);
        if (took is null)
        {
            Assert.Fail($"not within {timeout.TotalSeconds:F1} s: {what}\n" +
                string.Join('\n', last.Select(kv => $"  {kv.Key} sees: {string.Join(", ", kv.Value)}")));
        }
        return took.Value;
    }

    /// <summary>True when the view lists exactly <paramref name="members"/> and all are alive.</summary>
    public static bool AllAlive(IReadOnlyList<PeerEntry> view, IEnumerable<NodeProcess> members)
    {
        var ids = members.Select(m => m.PeerId).ToHashSet();
        return view.Count == ids.Count && view.All(p => ids.Contains(p.Id) && p.State == "alive");
    }

    /// <summary>Writes a timestamped line to the test output (measured times go here).</summary>
    public void Log(string line) => Output?.WriteLine($"[{_clock.Elapsed.TotalSeconds,7:F2} s] {line}");

    private ITestOutputHelper? Output => _output ?? TestContext.Current.TestOutputHelper;

    /// <summary>Every node's recent log lines.</summary>
    /// <summary>The node among <paramref name="candidates"/> whose status says it holds the lease (waits up to 30 s, else fails).</summary>
    public NodeProcess WaitForHolder(IReadOnlyList<NodeProcess> candidates)
    {
        NodeProcess? holder = null;
        var took = Poll.Until(() =>
        {
            // Every running candidate asked at once (each is a CLI process); the first that says holder.
            var running = candidates.Where(n => n.IsRunning).ToList();
            var roles = Concurrently.Map(running, n => n.Status().TryGetProperty("role", out var role) ? role.GetString() : null);
            holder = running.Where((_, i) => roles[i] == "holder").FirstOrDefault();
            return holder is not null;
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        Check.True(took is not null && holder is not null, () => $"no holder among {string.Join(", ", candidates.Select(c => c.Name))}\n{Diagnostics()}");
        Log($"holder {holder!.Name} found after {took!.Value.TotalMilliseconds:F0} ms");
        return holder;
    }

    public string Diagnostics() => string.Join('\n', _nodes.Select(n => n.Diagnostics()));

    /// <summary>A port free on every loopback address the nodes use, outside the kernel's ephemeral range.</summary>
    private static int FreePort(IReadOnlyList<string> hosts)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var port = Random.Shared.Next(20000, 32000);
            if (hosts.All(h => CanBind(IPAddress.Parse(h), port)))
            {
                return port;
            }
        }
        throw new InvalidOperationException("no free port in 20000-32000 on the test addresses after 50 tries");
    }

    private static bool CanBind(IPAddress address, int port)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        var failed = _output is not null && TestContext.Current.TestState?.Result is not TestResult.Passed and not TestResult.Skipped;
        var teardown = Stopwatch.StartNew();
        // Every node at once: each is then reaped and unmounted below, one after another but without waiting on the others.
        foreach (var n in _nodes)
        {
            try
            {
                n.SignalKill();
            }
            catch (Exception e)
            {
                Output?.WriteLine($"SIGKILL of {n.Name} failed: {e.Message}");
            }
        }
        foreach (var n in _nodes)
        {
            try
            {
                if (failed)
                {
                    _output!.WriteLine(n.Diagnostics());
                }
                n.Dispose();
            }
            catch (Exception e)
            {
                Output?.WriteLine($"clean-up of {n.Name} failed: {e.Message}");
            }
        }
        Log($"nodes stopped and unmounted in {teardown.Elapsed.TotalSeconds:F1} s");
        var stillMounted = _nodes.Where(n => MountTable.FsTypeAt(n.MountPoint) is not null).Select(n => n.MountPoint).ToList();
        if (stillMounted.Count == 0)
        {
            Directory.Delete(Root, recursive: true);
            Log($"temp dir deleted {teardown.Elapsed.TotalSeconds:F1} s into the teardown");
        }
        else
        {
            // Never recurse into a live mount: that would delete another node's files through it.
            Output?.WriteLine($"left {Root} in place: still mounted: {string.Join(", ", stillMounted)}");
        }
    }
}
