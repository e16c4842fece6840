using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

/// <summary>The term and vote (durable before any message that depends on them is sent) and the commit version.</summary>
public readonly record struct HardState(long Term, PeerId Vote, long Commit);

/// <summary>
/// Everything one round of input produced, in the order the driver must act on it: persist <see cref="HardState"/>
/// (fsync when term or vote changed), install <see cref="Snapshot"/>, drop the log from <see cref="TruncateFrom"/>,
/// append <see cref="Entries"/> (and fdatasync when <see cref="SyncLog"/>), then send <see cref="Messages"/>, then apply
/// up to <see cref="CommittedTo"/>, then call <see cref="LeaseLog.Advance"/>.
/// </summary>
public sealed class LeaseReady
{
    public HardState? HardState { get; init; }

    /// <summary>True when term or vote changed: the hard state must be fsynced before anything is sent.</summary>
    public bool HardStateMustSync { get; init; }

    public (long Version, long Term, byte[] State)? Snapshot { get; init; }

    /// <summary>
    /// The snapshot replaces this node's log and applied state even where they go past it (this node diverged after a
    /// majority power loss): drop every entry and the state, take the snapshot, and apply only what the holder sends
    /// after it.
    /// </summary>
    public bool SnapshotReplaces { get; init; }

    /// <summary>Drop every entry at or after this version before appending (a holder of a later term overrode them).</summary>
    public long? TruncateFrom { get; init; }

    public IReadOnlyList<LogEntry> Entries { get; init; } = [];

    /// <summary>Make the log durable up to its end (fdatasync) before sending.</summary>
    public bool SyncLog { get; init; }

    public IReadOnlyList<LeaseEnvelope> Messages { get; init; } = [];

    /// <summary>Followers that need a snapshot: the driver sends them an <see cref="InstallSnapshot"/> of its state.</summary>
    public IReadOnlyList<PeerId> SnapshotsToSend { get; init; } = [];

    /// <summary>Apply committed entries up to this version (never past what is persisted).</summary>
    public long CommittedTo { get; init; }

    public bool IsEmpty => HardState is null && Snapshot is null && TruncateFrom is null && Entries.Count == 0 && !SyncLog
        && Messages.Count == 0 && SnapshotsToSend.Count == 0;
}
