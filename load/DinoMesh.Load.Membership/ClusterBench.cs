using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace DinoMesh.Load.Membership;

/// <summary>What one run measured. Times are null when the phase did not finish within its limit.</summary>
internal sealed record BenchResult(
    int Nodes,
    TimeSpan StartSpread,
    TimeSpan? Converged,
    int JoinSuspicions,
    int JoinDeaths,
    int JoinRefusals,
    int SteadySuspicions,
    int SteadyDeaths,
    bool SteadyAllAlive,
    IReadOnlyList<double> CpuPercent,
    IReadOnlyList<long> RssBytes,
    TimeSpan? FirstDetection,
    TimeSpan? Detection);

/// <summary>
/// The run: found a cluster on node 1, start the others back to back with --join, wait until every node lists all N
/// alive, let it settle, watch a steady-state window, then kill -9 one node and wait until every survivor has
/// declared it dead. Counts come from the nodes' own log lines (one per observer and event).
/// </summary>
internal sealed class ClusterBench(BenchOptions options, string daemonDll, Action<string> log)
{
    private const string Suspected = "is suspected";
    private const string Dead = "is dead";
    private const string Refused = "not an admitted member";

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<BenchNode> _nodes = [];

    public IReadOnlyList<BenchNode> Nodes => _nodes;

    public async Task<BenchResult> RunAsync(string root, CancellationToken ct)
    {
        var port = FreePort(options.Nodes);
        for (var i = 0; i < options.Nodes; i++) _nodes.Add(new BenchNode(i + 1, root, $"{options.AddressPrefix}.{i + 1}", port, _clock));

        // 1. The founder, and its credential.
        var founder = _nodes[0];
        founder.Start(daemonDll, options.Profile, options.NodeEnvironment);
        var token = await PollAsync(async () => (await ControlSocket.CallAsync(founder.DataDir, "token", TimeSpan.FromSeconds(5), ct))?.GetProperty("token").GetString(),
            TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(200), ct)
            ?? throw new BenchException($"the founder printed no credential within 90 s:\n{Tail(founder)}");
        log($"founder {founder.Endpoint} up at {_clock.Elapsed.TotalSeconds:F1} s");

        // 2. Everyone else, back to back.
        var joinStart = _clock.Elapsed;
        foreach (var node in _nodes.Skip(1)) node.Start(daemonDll, options.Profile, options.NodeEnvironment, founder.Endpoint, token);
        var lastStart = _clock.Elapsed;
        log($"{options.Nodes - 1} nodes started in {(lastStart - joinStart).TotalSeconds:F2} s");

        // 3. Until every node lists all N alive.
        var all = _nodes.Select(n => n.Endpoint).ToHashSet();
        var converged = await PollAsync(async () => await AllSeeAsync(_nodes, all, "alive", ct) ? _clock.Elapsed : (TimeSpan?)null,
            options.ConvergeLimit, TimeSpan.FromMilliseconds(250), ct);
        var joinEnd = converged ?? _clock.Elapsed;
        var joinSuspicions = Count(Suspected, joinStart, joinEnd);
        var joinDeaths = Count(Dead, joinStart, joinEnd);
        var refusals = Count(Refused, joinStart, joinEnd);
        log(converged is { } c
            ? $"all {options.Nodes} list all alive {(c - lastStart).TotalSeconds:F1} s after the last start"
            : $"not converged within {options.ConvergeLimit.TotalSeconds:F0} s of the last start");
        log($"join: {joinSuspicions} suspicions, {joinDeaths} deaths, {refusals} refusals");
        if (converged is null) log($"views at the limit: {await DescribeViewsAsync(_nodes, all, ct)}");
        foreach (var gone in _nodes.Where(n => !n.Running)) log($"node {gone.Endpoint} exited: {string.Join(" | ", gone.Lines("error", TimeSpan.Zero, TimeSpan.MaxValue).Select(l => l.Line))}");

        // 4. Settle, then the steady-state window: no polling inside it, so the nodes are left alone.
        await Task.Delay(options.Settle, ct);
        var steadyStart = _clock.Elapsed;
        var cpuBefore = _nodes.Select(n => n.CpuTime()).ToList();
        await Task.Delay(options.Steady, ct);
        var steadyEnd = _clock.Elapsed;
        var cpuAfter = _nodes.Select(n => n.CpuTime()).ToList();
        var window = (steadyEnd - steadyStart).TotalSeconds;
        var cpu = cpuBefore.Zip(cpuAfter, (b, a) => b is { } x && a is { } y ? (y - x).TotalSeconds / window * 100 : double.NaN).ToList();
        var rss = _nodes.Select(n => n.Rss() ?? 0).ToList();
        var steadySuspicions = Count(Suspected, joinEnd, steadyEnd);
        var steadyDeaths = Count(Dead, joinEnd, steadyEnd);
        var allAlive = await AllSeeAsync(_nodes, all, "alive", ct);
        log($"steady {window:F0} s (after {options.Settle.TotalSeconds:F0} s settle): {steadySuspicions} suspicions, {steadyDeaths} deaths, all alive at the end: {allAlive}");
        if (!allAlive) log($"views at the end: {await DescribeViewsAsync(_nodes, all, ct)}");

        // 5. kill -9 the last node; until every survivor has logged it dead.
        var victim = _nodes[^1];
        // A node that exited (a join that failed) cannot declare anything: only running nodes are waited for.
        var survivors = _nodes.Take(_nodes.Count - 1).Where(n => n.Running).ToList();
        var killedAt = _clock.Elapsed;
        victim.Kill9();
        var needle = $"at {victim.Endpoint} {Dead}";
        var detected = await PollAsync(() => Task.FromResult(survivors.All(s => s.Lines(needle, killedAt, TimeSpan.MaxValue).Count > 0) ? _clock.Elapsed : (TimeSpan?)null),
            options.DetectLimit, TimeSpan.FromMilliseconds(50), ct);
        var firstLines = survivors.SelectMany(s => s.Lines(needle, killedAt, TimeSpan.MaxValue)).ToList();
        TimeSpan? first = firstLines.Count > 0 ? firstLines.Min(l => l.At) - killedAt : null;
        TimeSpan? last = detected is null ? null : survivors.Max(s => s.Lines(needle, killedAt, TimeSpan.MaxValue).Min(l => l.At)) - killedAt;
        log(last is { } d ? $"kill -9 of {victim.Endpoint}: first survivor {first?.TotalSeconds:F2} s, every survivor {d.TotalSeconds:F2} s" : $"kill -9 of {victim.Endpoint}: not detected by every survivor within {options.DetectLimit.TotalSeconds:F0} s");

        return new BenchResult(options.Nodes, lastStart - joinStart, converged - lastStart, joinSuspicions, joinDeaths, refusals,
            steadySuspicions, steadyDeaths, allAlive, cpu, rss, first, last);
    }

    /// <summary>Stops every node (SIGTERM, then SIGKILL) and detaches every mount it left.</summary>
    public void StopAll()
    {
        // SIGTERM all at once, then wait: stopping 32 nodes one by one would take minutes.
        Parallel.ForEach(_nodes, new ParallelOptions { MaxDegreeOfParallelism = 8 }, n => n.Stop(TimeSpan.FromSeconds(15)));
    }

    private int Count(string text, TimeSpan from, TimeSpan to) => _nodes.Sum(n => n.Lines(text, from, to).Count);

    private static async Task<bool> AllSeeAsync(IReadOnlyList<BenchNode> observers, HashSet<string> members, string state, CancellationToken ct)
    {
        var views = await Task.WhenAll(observers.Select(o => ControlSocket.PeersAsync(o.DataDir, TimeSpan.FromSeconds(5), ct)));
        return views.All(v => v is not null && v.Count == members.Count && v.All(p => members.Contains(p.Address) && p.State == state));
    }

    // Which observer does not list every member alive, and how it lists the others: "not all alive" alone does not
    // tell a node that lags behind the gossip from one whose control socket does not answer.
    private static async Task<string> DescribeViewsAsync(IReadOnlyList<BenchNode> observers, HashSet<string> members, CancellationToken ct)
    {
        var views = await Task.WhenAll(observers.Select(o => ControlSocket.PeersAsync(o.DataDir, TimeSpan.FromSeconds(5), ct)));
        var lines = new List<string>();
        for (var i = 0; i < observers.Count; i++)
        {
            var view = views[i];
            if (view is null)
            {
                lines.Add($"{observers[i].Endpoint}: no answer");
                continue;
            }
            var odd = view.Where(p => p.State != "alive").Select(p => $"{p.Address} {p.State}")
                .Concat(members.Where(m => view.All(p => p.Address != m)).Select(m => $"{m} missing")).ToList();
            if (odd.Count > 0) lines.Add($"{observers[i].Endpoint} lists {string.Join(", ", odd)}");
        }
        return lines.Count == 0 ? "all alive now" : string.Join("; ", lines);
    }

    private static async Task<T?> PollAsync<T>(Func<Task<T?>> probe, TimeSpan limit, TimeSpan every, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < limit)
        {
            if (await probe() is { } value) return value;
            await Task.Delay(every, ct);
        }
        return await probe();
    }

    private static string Tail(BenchNode node) => string.Join('\n', node.Log().Split('\n').TakeLast(20));

    /// <summary>A port free on every node address, outside the kernel's ephemeral range.</summary>
    private int FreePort(int nodes)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var port = Random.Shared.Next(20000, 32000);
            if (Enumerable.Range(1, nodes).All(i => CanBind(IPAddress.Parse($"{options.AddressPrefix}.{i}"), port))) return port;
        }
        throw new BenchException("no port in 20000-32000 is free on every node address after 50 tries");
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
}

/// <summary>The run cannot go on; the message says why.</summary>
internal sealed class BenchException(string message) : Exception(message);
