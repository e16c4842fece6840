using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

/// <summary>The term and vote (durable before any message that depends on them is sent) and the commit version.</summary>
public readonly record struct HardState(long Term, PeerId Vote, long Commit);

/// <summary>
/// Everything one round of input produced, in the order the driver must act on it: persist <see cref="HardState"/>
/// (fsync when term or vote changed), write <see cref="PiecesReceived"/> (checking the whole after the last piece),
/// install <see cref="Snapshot"/>, drop the log from <see cref="TruncateFrom"/>, append <see cref="Entries"/> (and
/// fdatasync when <see cref="SyncLog"/>), then send <see cref="Messages"/> and <see cref="PiecesToSend"/>, then apply
/// up to <see cref="CommittedTo"/>, then call <see cref="LeaseLog.Advance"/>, then report the check of a last piece
/// (<see cref="LeaseLog.SnapshotAssembled"/>). Valid until that <see cref="LeaseLog.Advance"/>: the machine fills the same
/// object for its next round (one per round on every node was about 550 bytes of each commit round, docs/benchmarks.md).
/// </summary>
public sealed class LeaseReady
{
    public HardState? HardState { get; internal set; }

    /// <summary>True when term or vote changed: the hard state must be fsynced before anything is sent.</summary>
    public bool HardStateMustSync { get; internal set; }

    /// <summary>
    /// Install the snapshot this node assembled from pieces (its driver holds the bytes; the last piece was checked):
    /// the state as of Version, of Term. Asked for only past the commit and when the log does not hold Version in Term;
    /// the log keeps what Raft keeps (<see cref="SnapshotInstall"/>): nothing from Version on, nothing before it once saved.
    /// </summary>
    public (long Version, long Term)? Snapshot { get; internal set; }

    /// <summary>
    /// The snapshot replaces this node's log and applied state even where they go past it (this node diverged after a
    /// majority power loss): drop every entry and the state, take the snapshot, and apply only what the holder sends
    /// after it.
    /// </summary>
    public bool SnapshotReplaces { get; internal set; }

    /// <summary>Drop every entry at or after this version before appending (a holder of a later term overrode them).</summary>
    public long? TruncateFrom { get; internal set; }

    public IReadOnlyList<LogEntry> Entries { get; internal set; } = [];

    /// <summary>Make the log durable up to its end (fdatasync) before sending.</summary>
    public bool SyncLog { get; internal set; }

    public IReadOnlyList<LeaseEnvelope> Messages { get; internal set; } = [];

    /// <summary>
    /// Followers that need a snapshot: the driver makes one of its applied state ready (encoded where it can read
    /// ranges of it) and tells the machine (<see cref="LeaseLog.SnapshotPrepared"/>), which then names the pieces to send.
    /// </summary>
    public IReadOnlyList<PeerId> SnapshotsToSend { get; internal set; } = [];

    /// <summary>Pieces of a prepared snapshot the driver reads and sends (as <see cref="SnapshotPiece"/> messages).</summary>
    public IReadOnlyList<OutgoingPiece> PiecesToSend { get; internal set; } = [];

    /// <summary>
    /// Pieces of a snapshot from the holder, in order, to write where the driver assembles it before the acknowledgements
    /// in <see cref="Messages"/> leave. After a last piece the driver checks the whole and reports it.
    /// </summary>
    public IReadOnlyList<ReceivedPiece> PiecesReceived { get; internal set; } = [];

    /// <summary>Apply committed entries up to this version (never past what is persisted).</summary>
    public long CommittedTo { get; internal set; }

    /// <summary>
    /// Look whether anything still listens at these peers' addresses (a follower's holder whose heartbeat is late, or
    /// the holder's voters whose answers are): when a connect is refused, report <see cref="LeaseLog.PeerGone"/> with
    /// that peer and term. Anything else (a connection made, a timeout, an unreachable network) is no evidence and is
    /// not reported. Off the lock; at most one probe per peer at a time.
    /// </summary>
    public IReadOnlyList<(PeerId Peer, long Term)> Probes { get; internal set; } = [];

    public bool IsEmpty => HardState is null && Snapshot is null && TruncateFrom is null && Entries.Count == 0 && !SyncLog
        && Messages.Count == 0 && SnapshotsToSend.Count == 0 && PiecesToSend.Count == 0 && PiecesReceived.Count == 0 && Probes.Count == 0;
}
