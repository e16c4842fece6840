using System.Security.Cryptography;
using System.Text;
using DinoMesh.Cluster.Membership;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>One simulated node: a membership machine plus whether its process is running and which side of a cut it is on.</summary>
internal sealed class SimNode(int index, PeerId id, string address, MemberList machine)
{
    public int Index { get; } = index;
    public PeerId Id { get; } = id;
    public string Address { get; } = address;
    public MemberList Machine { get; set; } = machine;
    public bool Up { get; set; } = true;
    public int Side { get; set; }
    public int Restarts { get; set; }

    /// <summary>
    /// A CPU-starved process: it runs only now and then, at random intervals of up to this long. Null: it runs on time.
    /// </summary>
    public TimeSpan? MaxStall { get; set; }

    /// <summary>When a starved node next gets the CPU.</summary>
    public TimeSpan WakeAt { get; set; }

    /// <summary>Messages that reached a starved node while it did not run, in arrival order.</summary>
    public Queue<(SimNode From, MembershipMessage Message)> Inbox { get; } = new();

    public MemberStatus? ViewOf(SimNode other) => Machine.Find(other.Id)?.Status;

    public override string ToString() => $"n{Index}({Id.Short})";
}

/// <summary>An event one node observed, stamped with simulated time.</summary>
internal readonly record struct SimEvent(TimeSpan At, SimNode Observer, MemberEventKind Kind, PeerId Member, ulong Incarnation);

/// <summary>
/// A simulated network of membership machines on a fake clock: per-message random delay (which also reorders),
/// loss, duplication, partitions (cut into sides, heal), crash and restart. All randomness comes from the seed, so a
/// run is a pure function of (seed, scenario).
/// </summary>
internal sealed class SimNetwork
{
    private readonly PriorityQueue<Envelope, (TimeSpan At, long Order)> _inFlight = new();
    private readonly Dictionary<PeerId, SimNode> _byId = [];
    private readonly Dictionary<string, SimNode> _byAddress = [];
    private long _order;

    public SimNetwork(int seed, MembershipConfig config)
    {
        Seed = seed;
        Config = config;
        Random = new Random(seed);
    }

    public int Seed { get; }
    public MembershipConfig Config { get; }
    public Random Random { get; }
    public TimeSpan Now { get; private set; }
    public List<SimNode> Nodes { get; } = [];
    public List<SimEvent> Events { get; } = [];
    public long Delivered { get; private set; }

    public TimeSpan Step { get; set; } = TimeSpan.FromMilliseconds(10);
    public TimeSpan MinDelay { get; set; } = TimeSpan.FromMilliseconds(1);
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMilliseconds(20);
    public double Loss { get; set; }
    public double Duplication { get; set; }

    public IEnumerable<SimNode> UpNodes => Nodes.Where(n => n.Up);

    public string Replay => SimSeed.Replay(Seed);

    /// <summary>Add a node (not yet joined). Its id is derived from its index, its randomness from the seed.</summary>
    public SimNode AddNode()
    {
        var index = Nodes.Count;
        var id = PeerId.FromPublicKey(Encoding.UTF8.GetBytes($"sim-node-{index}"));
        var address = $"10.0.{index / 250}.{index % 250 + 1}:7946";
        var node = new SimNode(index, id, address, NewMachine(index, id, address, restarts: 0));
        Nodes.Add(node);
        _byId.Add(id, node);
        _byAddress.Add(address, node);
        return node;
    }

    public List<SimNode> AddNodes(int count) => [.. Enumerable.Range(0, count).Select(_ => AddNode())];

    public void Join(SimNode node, params SimNode[] seeds) => Route(node, node.Machine.Join(Now, seeds.Select(s => s.Address)));

    public void Leave(SimNode node) => Route(node, node.Machine.Leave(Now));

    /// <summary>The process stops: it handles nothing and everything sent to it is lost.</summary>
    public void Crash(SimNode node)
    {
        node.Up = false;
        node.Inbox.Clear();
    }

    /// <summary>The process comes back with a fresh machine (incarnation 0, empty view) and joins through <paramref name="seed"/>.</summary>
    public void Restart(SimNode node, SimNode seed)
    {
        node.Restarts++;
        node.Machine = NewMachine(node.Index, node.Id, node.Address, node.Restarts);
        node.Up = true;
        Join(node, seed);
    }

    /// <summary>
    /// Starve <paramref name="node"/> of CPU: from now on it runs only at random moments, each 0 to
    /// <paramref name="maxStall"/> after the previous one. When it runs, its timers fire first (late) and then it handles
    /// every message that arrived meanwhile, as a descheduled process does when it gets a core back. Null: cured.
    /// </summary>
    public void Starve(SimNode node, TimeSpan? maxStall)
    {
        node.MaxStall = maxStall;
        node.WakeAt = Now;
        if (maxStall is null) Drain(node);
    }

    /// <summary>Cut the network: nodes in <paramref name="side"/> only reach each other from now on.</summary>
    public void Cut(IEnumerable<SimNode> side, int sideId = 1)
    {
        foreach (var node in side) node.Side = sideId;
    }

    public void Heal()
    {
        foreach (var node in Nodes) node.Side = 0;
    }

    /// <summary>Run for <paramref name="duration"/> of simulated time.</summary>
    public void Run(TimeSpan duration)
    {
        var end = Now + duration;
        while (Now < end) Advance();
    }

    /// <summary>Run until <paramref name="condition"/> holds (checked every <paramref name="every"/>) or <paramref name="limit"/> passes; the time taken, or null.</summary>
    public TimeSpan? RunUntil(Func<bool> condition, TimeSpan limit, TimeSpan? every = null)
    {
        var start = Now;
        var check = every ?? TimeSpan.FromMilliseconds(50);
        var nextCheck = Now;
        while (Now - start <= limit)
        {
            if (Now >= nextCheck)
            {
                if (condition()) return Now - start;
                nextCheck = Now + check;
            }
            Advance();
        }
        return null;
    }

    /// <summary>True when every up node sees every node in <paramref name="members"/> with <paramref name="status"/>.</summary>
    public bool AllSee(IEnumerable<SimNode> members, MemberStatus status, IEnumerable<SimNode>? observers = null)
    {
        var list = members as IReadOnlyCollection<SimNode> ?? [.. members];
        foreach (var observer in observers ?? UpNodes)
        {
            if (!observer.Up) continue;
            foreach (var member in list)
            {
                if (member != observer && observer.ViewOf(member) != status) return false;
            }
        }
        return true;
    }

    /// <summary>Every up node sees every other up node alive.</summary>
    public bool Converged() => AllSee([.. UpNodes], MemberStatus.Alive);

    /// <summary>A short description of who sees what, for failure messages.</summary>
    public string Describe(IEnumerable<SimNode>? members = null)
    {
        var sb = new StringBuilder();
        foreach (var observer in UpNodes.Take(40))
        {
            var wrong = (members ?? UpNodes).Where(m => m != observer && observer.ViewOf(m) != (m.Up ? MemberStatus.Alive : MemberStatus.Dead))
                .Select(m => $"{m}={observer.ViewOf(m)?.ToString() ?? "unknown"}").Take(8).ToList();
            if (wrong.Count > 0) sb.Append(observer).Append(": ").AppendJoin(", ", wrong).AppendLine();
        }
        return sb.Length == 0 ? "(all views as expected)" : sb.ToString();
    }

    /// <summary>The event trace as text, for determinism checks.</summary>
    public List<string> Trace() =>
        [.. Events.Select(e => $"{e.At.TotalMilliseconds:F0} {e.Observer.Index} {e.Kind} {_byId[e.Member].Index} {e.Incarnation}")];

    private MemberList NewMachine(int index, PeerId id, string address, int restarts) =>
        // Not HashCode.Combine: it is seeded per process, and a seed must replay the same run in any process.
        new(id, address, Config, new Random(unchecked(Seed * 1_000_003 + index * 7919 + restarts * 104_729)), Now);

    private void Advance()
    {
        Now += Step;
        while (_inFlight.TryPeek(out _, out var key) && key.At <= Now)
        {
            var envelope = _inFlight.Dequeue();
            var to = envelope.To;
            // A cut applies to messages still in flight, as on a real network.
            if (!to.Up || to.Side != envelope.From.Side) continue;
            Delivered++;
            if (to.MaxStall is not null)
            {
                to.Inbox.Enqueue((envelope.From, envelope.Message));
                continue;
            }
            Route(to, to.Machine.Receive(key.At, envelope.From.Id, envelope.Message), key.At);
        }
        foreach (var node in Nodes)
        {
            if (!node.Up) continue;
            if (node.MaxStall is { } stall)
            {
                if (Now < node.WakeAt) continue;
                Route(node, node.Machine.Tick(Now));
                Drain(node);
                node.WakeAt = Now + stall * Random.NextDouble();
                continue;
            }
            Route(node, node.Machine.Tick(Now));
        }
    }

    private void Drain(SimNode node)
    {
        while (node.Inbox.TryDequeue(out var item)) Route(node, node.Machine.Receive(Now, item.From.Id, item.Message));
    }

    private void Route(SimNode from, MembershipOutput output, TimeSpan? at = null)
    {
        var now = at ?? Now;
        foreach (var e in output.Events) Events.Add(new SimEvent(now, from, e.Kind, e.Member.Id, e.Member.Incarnation));
        foreach (var outbound in output.Messages)
        {
            SimNode? to = null;
            if (!outbound.To.IsEmpty) _byId.TryGetValue(outbound.To, out to);
            else _byAddress.TryGetValue(outbound.Address, out to);
            if (to is null || to == from) continue;
            if (Loss > 0 && Random.NextDouble() < Loss) continue;
            var copies = Duplication > 0 && Random.NextDouble() < Duplication ? 2 : 1;
            for (var i = 0; i < copies; i++)
            {
                var delay = MinDelay + (MaxDelay - MinDelay) * Random.NextDouble();
                // A process restarted at the same address receives what was in flight to its previous life, as on a real network.
                _inFlight.Enqueue(new Envelope(from, to, outbound.Message), (now + delay, _order++));
            }
        }
    }

    private sealed record Envelope(SimNode From, SimNode To, MembershipMessage Message);
}
