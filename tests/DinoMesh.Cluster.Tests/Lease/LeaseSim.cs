using System.Security.Cryptography;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>Fault rates for one simulation run.</summary>
internal sealed record LeaseFaults
{
    public double Loss { get; init; }
    public double Duplicate { get; init; }
    /// <summary>Message delay, uniform in [1, MaxDelayMs] ms (also reorders).</summary>
    public int MaxDelayMs { get; init; } = 10;

    /// <summary>Chance that a snapshot piece arrives with one byte flipped (a bad disk or memory on the way).</summary>
    public double CorruptPiece { get; init; }

    /// <summary>
    /// The verdict on an assembled snapshot reaches the machine up to this many ticks after its last piece (the driver
    /// checks and prepares a snapshot off its lock, and a large one takes a minute), while messages and ticks go on;
    /// 0: at once, after the Advance of the round that carried the last piece.
    /// </summary>
    public int MaxVerdictDelayTicks { get; init; }

    /// <summary>
    /// Partitions and cut links reject instead of dropping (a firewall's REJECT): a probe of a holder across the cut is
    /// refused although the holder lives, which is false evidence that it is gone.
    /// </summary>
    public bool RejectingCuts { get; init; }
}

/// <summary>
/// Lease machines on a simulated network and clock: delay (and so reordering), loss, duplication, partitions, kill -9,
/// power cuts that lose un-synced log suffixes, CPU stalls, log compaction and snapshot transfer, voter changes. The
/// invariants are checked after every event; everything random comes from the seed, so a failure replays exactly.
/// </summary>
internal sealed partial class LeaseSim
{
    public const int TickMs = 50;

    private readonly PriorityQueue<(int To, PeerId From, LeaseMessage Message), (long At, long Order)> _network = new();
    private readonly Dictionary<PeerId, LeaseSimNode> _byId = [];
    private readonly LeaseConfig _config;
    private long _order;
    private long _proposalCounter;

    /// <summary>The committed log as observed anywhere: version → (term, payload hash). Never changes once set.</summary>
    private readonly Dictionary<long, (long Term, string Hash)> _committed = [];

    /// <summary>Who held the lease in each term: at most one.</summary>
    private readonly Dictionary<long, PeerId> _holders = [];

    public LeaseSim(int seed, int voters, int learners, LeaseFaults faults, LeaseConfig? config = null)
    {
        Seed = seed;
        Random = new Random(seed);
        Faults = faults;
        _config = config ?? LeaseConfig.Default;
        for (var i = 0; i < voters + learners; i++)
        {
            var id = new PeerId(Convert.ToHexStringLower(SHA256.HashData(BitConverter.GetBytes(seed * 1000 + i))));
            var node = new LeaseSimNode(i, id);
            Nodes.Add(node);
            _byId[id] = node;
        }
        InitialVoters = new VoterSet([.. Nodes.Take(voters).Select(n => n.Id)]);
        foreach (var node in Nodes)
        {
            node.AppliedVoters = InitialVoters;
            Start(node);
        }
    }

    public int Seed { get; }

    public Random Random { get; }

    public LeaseFaults Faults { get; set; }

    public List<LeaseSimNode> Nodes { get; } = [];

    public VoterSet InitialVoters { get; }

    public long NowMs { get; private set; }

    /// <summary>Payloads proposed and committed (acknowledged to their proposer): none may ever be lost.</summary>
    public List<(long Version, string Hash)> Acknowledged { get; } = [];

    public bool PowerLossAllowed { get; set; }

    public static readonly byte[] NoopPayload = [0x00];

    /// <summary>The simulation's config entries: 0xC0 then the voters' indices.</summary>
    public VoterSet? ConfigOf(LogEntry entry, VoterSet before) => ConfigOf(entry);

    public VoterSet? ConfigOf(LogEntry entry) =>
        entry.Payload is [0xC0, .. var rest] ? new VoterSet([.. rest.Select(i => Nodes[i].Id)]) : null;

    private void Start(LeaseSimNode node)
    {
        node.Machine = new LeaseLog(node.Id, _config, new Random(Random.Next()), node.Log, node.Durable, node.AppliedVoters, node.Applied,
            ConfigOf, NoopPayload, ++node.Lives);
        node.Machine.SetMembers(Nodes.Select(n => n.Id));
    }

    private string Fail(string what) => $"{what} at {NowMs} ms; {Replay}";

    public string Replay => $"seed {Seed}; replay with {DinoMesh.Cluster.Tests.Membership.SimSeed.Variable}={Seed}";

    public IEnumerable<LeaseSimNode> Holders => Nodes.Where(n => n.Up && n.Machine.IsHolder);

    /// <summary>Runs the clock for <paramref name="ms"/>: ticks every <see cref="TickMs"/>, deliveries in between.</summary>
    public void Run(long ms, double proposalsPerTick = 0)
    {
        var end = NowMs + ms;
        while (NowMs < end)
        {
            var nextTick = (NowMs / TickMs + 1) * TickMs;
            while (true)
            {
                var hasMessage = _network.TryPeek(out _, out var at) && at.At <= nextTick;
                if (_probes.TryPeek(out _, out var probeAt) && probeAt.At <= nextTick && (!hasMessage || probeAt.CompareTo(at) < 0)
                    && !(_noticeDeadlines.TryPeek(out _, out var before) && before.CompareTo(probeAt) < 0))
                {
                    DeliverDueProbes(probeAt.At);
                    continue;
                }
                if (_noticeDeadlines.TryPeek(out _, out var noticeAt) && noticeAt.At <= nextTick && (!hasMessage || noticeAt.CompareTo(at) < 0))
                {
                    DeliverDueNoticeDeadlines(noticeAt.At);
                    continue;
                }
                if (!hasMessage) break;
                var (to, from, message) = _network.Dequeue();
                NowMs = Math.Max(NowMs, at.At);
                Deliver(to, from, message);
            }
            NowMs = nextTick;
            foreach (var node in Nodes.Where(n => n.Up))
            {
                if (node.Stalled > 0)
                {
                    node.Stalled--;
                    continue;
                }
                DeliverDueVerdicts(node);
                TickChecked(node);
                Process(node);
            }
            if (proposalsPerTick > 0 && Random.NextDouble() < proposalsPerTick) ProposeAnywhere();
        }
    }
}
