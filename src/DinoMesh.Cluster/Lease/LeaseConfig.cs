namespace DinoMesh.Cluster.Lease;

/// <summary>
/// Timing and batching of the lease machine, in ticks (the driver decides how long a tick is: 50 ms on a LAN).
/// </summary>
public sealed record LeaseConfig
{
    /// <summary>
    /// The holder renews its lease (a heartbeat to every voter) this often: 150 ms, four per election timeout, so a voter
    /// campaigns only after four heartbeats in a row were lost or late. It was 100 ms: an idle cluster's CPU goes to its
    /// calls (each wakes threads at both ends), and heartbeats were a third of a follower's calls and half the holder's
    /// (docs/benchmarks.md, issue 13). New entries and commit versions never wait for a heartbeat (a commit version
    /// waits at most for the next append or LeaseTiming.CommitNoticeDelay, see LeaseLog.Notices.cs); loss repair
    /// (<see cref="ResendTicks"/>) and idle learners (<see cref="LearnerHeartbeatIntervals"/>) count in heartbeats.
    /// </summary>
    public int HeartbeatTicks { get; init; } = 3;

    /// <summary>
    /// A learner that holds the whole log gets an empty heartbeat only after this many heartbeat intervals without any
    /// message (1.5 s at the defaults). Learners never campaign, so they need no lease renewal: new entries reach them at
    /// once anyway and new commit versions within the notice deadline, and only the commit version after a lost push
    /// waits for this heartbeat. With
    /// a handful of voters and dozens of learners, renewing every member every interval was most of an idle cluster's
    /// calls. A learner that lags gets the voters' rate until it has caught up, so repair after loss is not slower.
    /// </summary>
    public int LearnerHeartbeatIntervals { get; init; } = 10;

    /// <summary>
    /// An idle log's lease runs this many times slower: once nothing has been proposed for <see cref="IdleAfterRounds"/>
    /// heartbeat rounds and every voter that answers holds the whole log, the holder heartbeats this many times less often and says so
    /// in its appends; a follower told so stretches its election timeout and its lease by the same factor, and the holder stretches its check-quorum window once a majority of voters has acknowledged the idle
    /// heartbeats. The first proposal ends it at once (its appends say "not idle", and the holder's window shrinks
    /// first). An idle cluster of 32 made about 45 lease calls a second at its holder with 4 voters renewed every
    /// 150 ms and 27 learners every 1.5 s; idle at 4, about 11. Commit gossip slows by the same factor once a node's
    /// commit version has stood still for as many rounds. The cost: a holder whose machine dies while the log is idle is
    /// replaced after 2.4-4.8 s instead of 0.6-1.2 s; one whose process is killed is found gone by
    /// <see cref="ProbeSilentPeers"/> and replaced in under a second. 1 turns it off.
    /// </summary>
    public int IdleFactor { get; init; } = 4;

    /// <summary>
    /// A voter whose holder's heartbeat is late (nothing for one heartbeat interval at the pace in force plus one normal
    /// heartbeat: 750 ms on an idle log, 300 ms on a busy one) asks its driver to look whether anything still listens at
    /// the holder's address, and again every interval while the silence lasts. A refused connect is evidence that the
    /// holder's process is gone (<see cref="LeaseLog.HolderGone"/>): the voter then campaigns within
    /// <see cref="HolderGoneCampaignTicks"/> instead of waiting out the lease of a process that no longer exists. This
    /// is what brings fail-over after kill -9 of an idle log's holder from 2.2-2.8 s to under a second
    /// (docs/benchmarks.md). A holder whose machine is gone (power, cable) refuses nothing and is still replaced after
    /// the election timeout. The holder probes a voter whose answers are late the same way, and steps down at once when
    /// fewer than a majority of voters are left whose processes are not known to be gone (<see cref="LeaseLog.VoterGone"/>).
    /// False turns the probes off.
    /// </summary>
    public bool ProbeSilentPeers { get; init; } = true;

    /// <summary>
    /// With evidence that the holder's process is gone, a voter campaigns after a random 1..this many ticks (50-300 ms):
    /// soon, but spread, because every survivor gets the same evidence at about the same time and two that campaign in
    /// the same tick can split the vote.
    /// </summary>
    public int HolderGoneCampaignTicks { get; init; } = 6;

    /// <summary>
    /// Quiet heartbeat rounds (no proposal, no fsync waiting, every voter that answers caught up) before the lease idles; also the
    /// gossip rounds without a new commit before gossip slows.
    /// </summary>
    public int IdleAfterRounds { get; init; } = 7;

    /// <summary>
    /// A voter that hears nothing from a holder for a random time in [ElectionTicks, 2 × ElectionTicks) starts a
    /// (pre-)election; a holder that has not heard from a majority for ElectionTicks steps down (check-quorum). A voter
    /// that heard from a holder within ElectionTicks still sees a valid lease and refuses to vote for anyone else.
    /// </summary>
    public int ElectionTicks { get; init; } = 12;

    /// <summary>
    /// Ticks after the holder's last message during which a follower still sees its lease as live (and refuses to help
    /// elect another). A voter hears from the holder every heartbeat; a learner only every
    /// <see cref="LearnerHeartbeatIntervals"/> heartbeats when idle, so its window is longer by that interval.
    /// </summary>
    public int LeaseTicks(bool learner) => ElectionTicks + (learner ? HeartbeatTicks * LearnerHeartbeatIntervals : 0);

    /// <summary>Ticks without a word from the holder after which a follower reports it lost (no quorum, in status).</summary>
    public int HolderSilenceTicks(bool learner) => LeaseTicks(learner) * 2;

    /// <summary>Most entries in one append message (batching).</summary>
    public int MaxEntriesPerMessage { get; init; } = 512;

    /// <summary>Most payload bytes in one append message; at least one entry is always sent.</summary>
    public int MaxBytesPerMessage { get; init; } = 1 << 20;

    /// <summary>
    /// Quorum first (LeaseLog.QuorumFirst.cs): new entries go at once only to as many voters as a majority needs; the
    /// other followers' appends wait until this many entries are waiting for one of them, or the driver's deadline
    /// (LeaseTiming.DeferredAppendDelay) passes, and then go in one message. 8: with one writer on 3 nodes about 2,000
    /// commits a second, so the deadline, not the count, usually sends them; the count keeps a burst from waiting.
    /// 0 sends every append to every follower at once.
    /// </summary>
    public int DeferredAppendEntries { get; init; } = 8;

    /// <summary>
    /// Append messages in flight to one follower before the holder waits for an answer (pipelining). Proposals that
    /// arrive meanwhile wait and then travel together in the next append: this is what batches commits.
    /// </summary>
    public int MaxInflight { get; init; } = 4;

    /// <summary>
    /// Heartbeats without any answer from a follower before the holder assumes its appends were lost and sends again
    /// from what it last acknowledged. Short enough to repair loss quickly, long enough not to flood a slow follower.
    /// </summary>
    public int ResendTicks { get; init; } = 5;

    /// <summary>
    /// Every member tells one other member (round robin) how far it has committed this often; a member behind it pulls
    /// the missing committed entries from that member when the holder's appends are not reaching it.
    /// </summary>
    public int GossipTicks { get; init; } = 10;

    /// <summary>
    /// Ticks a pull waits for its answer before it is presumed lost, so the next digest that shows this member behind
    /// pulls again. One round trip, with room: a member cut off from the holder that lost a pull must not sit out the
    /// digests of the next gossip rounds, which come rarely once the cluster is idle.
    /// </summary>
    public int PullTimeoutTicks { get; init; } = 5;

    /// <summary>
    /// How far behind a member's commit version must be before it pulls even though the holder's appends still
    /// arrive (it is then falling behind, not waiting for the next append).
    /// </summary>
    public int PullLag { get; init; } = 64;

    /// <summary>
    /// Bytes of a snapshot in one piece. A snapshot travels as pieces the follower acknowledges one by one, so no call
    /// carries more than this (plus a few bytes), whatever the size of the tree; the follower writes them to a file.
    /// 1 MiB: the size of an append's entries, a few milliseconds on a LAN. Tests make it tiny to get many pieces.
    /// </summary>
    public int SnapshotPieceBytes { get; init; } = 1 << 20;

    /// <summary>Largest <see cref="SnapshotPieceBytes"/> allowed: a call carries at most a few pieces within its bound.</summary>
    public const int MaxSnapshotPieceBytes = 16 << 20;

    /// <summary>
    /// Pieces sent and not yet acknowledged, per follower. Two keeps the link busy while an acknowledgement travels
    /// back, and bounds what a lost piece costs to resend.
    /// </summary>
    public int SnapshotPiecesInflight { get; init; } = 2;

    /// <summary>
    /// Heartbeat intervals without an acknowledgement that moves a transfer before the pieces in flight are presumed
    /// lost and sent again (a lost piece followed by another is noticed at once: the follower reports the gap).
    /// </summary>
    public int SnapshotResendIntervals { get; init; } = 2;

    /// <summary>For a cluster on one machine or in simulation: the same, named.</summary>
    public static LeaseConfig Default { get; } = new();

    public void Validate()
    {
        if (IdleFactor < 1 || IdleAfterRounds < 1) throw new ArgumentException("idle factor and idle rounds must be positive");
        if (HolderGoneCampaignTicks < 1) throw new ArgumentException("holder-gone campaign ticks must be positive");
        if (LearnerHeartbeatIntervals < 1) throw new ArgumentException("learner heartbeat intervals must be positive");
        if (HeartbeatTicks < 1 || ElectionTicks <= HeartbeatTicks) throw new ArgumentException("election ticks must exceed heartbeat ticks");
        if (DeferredAppendEntries < 0) throw new ArgumentException("deferred append entries must not be negative");
        if (MaxEntriesPerMessage < 1 || MaxBytesPerMessage < 1 || MaxInflight < 1 || ResendTicks < 1 || GossipTicks < 1 || PullTimeoutTicks < 1 || PullLag < 1) throw new ArgumentException("batch limits must be positive");
        if (SnapshotPieceBytes < 1 || SnapshotPieceBytes > MaxSnapshotPieceBytes) throw new ArgumentException($"snapshot piece bytes must be in 1..{MaxSnapshotPieceBytes}");
        if (SnapshotPiecesInflight < 1 || SnapshotResendIntervals < 1) throw new ArgumentException("snapshot pieces in flight and resend intervals must be positive");
    }
}
