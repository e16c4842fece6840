using MessagePack;

namespace DinoMesh.Cluster.Lease;

/// <summary>One entry of the replicated metadata log: its version, the term of the holder that made it, and the encoded mutation.</summary>
[MessagePackObject]
public sealed record LogEntry(
    [property: Key(0)] long Version,
    [property: Key(1)] long Term,
    [property: Key(2)] byte[] Payload);

/// <summary>What the machine needs to know about its own stable (persisted) log. Implemented over the log files, or in memory.</summary>
public interface ILogView
{
    /// <summary>The version the snapshot covers (entries up to it are no longer held), and its term.</summary>
    (long Version, long Term) Snapshot { get; }

    /// <summary>The newest persisted version (the snapshot's when the log holds nothing after it).</summary>
    long LastVersion { get; }

    /// <summary>The term of a held version, the snapshot's, or -1 when not held.</summary>
    long TermAt(long version);

    /// <summary>Entries from <paramref name="from"/> on, at most <paramref name="maxCount"/> and about <paramref name="maxBytes"/>.</summary>
    IReadOnlyList<LogEntry> Read(long from, int maxCount, long maxBytes);
}

/// <summary>The cluster configuration as the log says: who votes. Learners are every other member the driver reports.</summary>
public sealed record VoterSet(IReadOnlyList<DinoMesh.Core.Identity.PeerId> Voters)
{
    public bool Contains(DinoMesh.Core.Identity.PeerId peer) => Voters.Contains(peer);

    public int Quorum => Voters.Count / 2 + 1;
}
