using System.Security.Cryptography;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// One simulated node: a lease machine, its log on a simulated disk, its durable term and vote, and the state it has
/// applied (in the simulation a hash chain over the applied payloads, which is all a state hash needs).
/// </summary>
internal sealed class LeaseSimNode
{
    public LeaseSimNode(int index, PeerId id)
    {
        Index = index;
        Id = id;
    }

    public int Index { get; }

    public PeerId Id { get; }

    public LeaseLog Machine { get; set; } = null!;

    public MemoryLog Log { get; } = new();

    /// <summary>Term and vote as last fsynced (what a restart finds); commit as last written.</summary>
    public HardState Durable { get; set; }

    public bool Up { get; set; } = true;

    /// <summary>The machine itself is down (power): nothing answers a connect, not even a refusal.</summary>
    public bool MachineDown { get; set; }

    public int Side { get; set; }

    /// <summary>Ticks left before this node's timers and messages run again (a CPU-starved node).</summary>
    public int Stalled { get; set; }

    /// <summary>How many times the node started (its machine's life).</summary>
    public long Lives { get; set; }

    public long Applied { get; private set; }

    /// <summary>The most this node acknowledged holding (a successful answer's match), and in which term; a power cut forgets it.</summary>
    public (long Term, long Match) Acknowledged { get; set; }

    public byte[] StateHash { get; private set; } = new byte[32];

    /// <summary>The voters as of the applied state (a restart starts from these).</summary>
    public VoterSet AppliedVoters { get; set; } = new([]);

    public void Apply(LogEntry entry, Func<LogEntry, VoterSet?> configOf)
    {
        if (entry.Version != Applied + 1) throw new InvalidOperationException($"{this}: applied {entry.Version} after {Applied}");
        Applied = entry.Version;
        StateHash = SHA256.HashData([.. StateHash, .. entry.Payload]);
        if (configOf(entry) is { } voters) AppliedVoters = voters;
    }

    /// <summary>What a snapshot carries: the applied version's hash and voters.</summary>
    public byte[] Snapshot() => [.. StateHash, .. AppliedVoters.Voters.SelectMany(v => Convert.FromHexString(v.Hex))];

    public void Install(long version, byte[] state)
    {
        Applied = version;
        StateHash = state[..32];
        var voters = new List<PeerId>();
        for (var at = 32; at + 32 <= state.Length; at += 32) voters.Add(new PeerId(Convert.ToHexStringLower(state.AsSpan(at, 32))));
        AppliedVoters = new VoterSet(voters);
    }

    /// <summary>A restart: the state is rebuilt from the snapshot and the log, as a real node replays it.</summary>
    public void ResetApplied()
    {
        if (Log.Snapshot.Version > 0) Install(Log.Snapshot.Version, Log.SnapshotState);
        else
        {
            Applied = 0;
            StateHash = new byte[32];
        }
    }

    /// <summary>The snapshot this node sends followers too far behind, and its bytes (its driver's file).</summary>
    public (SnapshotMeta Meta, byte[] Bytes)? Outgoing { get; set; }

    /// <summary>The snapshot this node assembles from pieces (its driver's temp file), and how many pieces it took.</summary>
    public SnapshotId? Assembling { get; set; }

    public List<byte> Assembly { get; } = [];

    public int AssemblyPieces { get; set; }

    /// <summary>Verdicts on assembled snapshots not yet told to the machine, with the ticks left until they are.</summary>
    public List<(SnapshotId Id, bool Verified, int TicksLeft)> HeldVerdicts { get; } = [];

    public override string ToString() => $"n{Index}";
}
