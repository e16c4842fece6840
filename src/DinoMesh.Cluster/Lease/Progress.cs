namespace DinoMesh.Cluster.Lease;

/// <summary>
/// What the holder knows of one follower's log: <see cref="Match"/> is the newest version known to equal the holder's,
/// <see cref="Next"/> the next one to send. A follower is probed (one append at a time, stepping back on refusals)
/// until a match is found, then replicated to with several appends in flight.
/// </summary>
internal sealed class Progress
{
    public long Match { get; set; }

    public long Next { get; set; }

    /// <summary>How far the follower's log is durable (fdatasynced), as it last said.</summary>
    public long Synced { get; set; }

    public bool Probing { get; set; } = true;

    /// <summary>The follower's life (start count) its answers carried: a newer one means it restarted.</summary>
    public long Life { get; set; }

    /// <summary>
    /// The follower restarted: what it acknowledged before may be gone with a power cut (followers answer before they
    /// fsync), so nothing it said counts any more; probe it from the end of the log again.
    /// </summary>
    public void Restarted(long next)
    {
        Match = 0;
        Synced = 0;
        CommitSent = 0;
        AwaitsCommit = 0;
        DeferredRounds = 0;
        Next = next;
        Probing = true;
        ForgetInflight();
    }

    /// <summary>
    /// The commit version last sent to it. A follower that holds more than that is owed a notice, which waits for the
    /// next append unless the follower waits for it (<see cref="AwaitsCommit"/>).
    /// </summary>
    public long CommitSent { get; set; }

    /// <summary>
    /// The newest version the follower waits to apply (its own proposal, a read index it was given): while it has not
    /// been sent a commit version that far, notices to it go at once.
    /// </summary>
    public long AwaitsCommit { get; set; }

    /// <summary>The last version of each append sent and not yet acknowledged, oldest first.</summary>
    private readonly Queue<long> _inflight = new();

    /// <summary>Appends sent and not yet answered.</summary>
    public int Inflight => _inflight.Count;

    public void Sent(long lastVersion) => _inflight.Enqueue(lastVersion);

    /// <summary>
    /// The follower holds up to <paramref name="match"/>: every append ending there or before is answered (whichever
    /// answer arrived — a duplicate, a reordered one — frees it, so nothing stays counted for ever).
    /// </summary>
    public void Acknowledged(long match)
    {
        while (_inflight.TryPeek(out var end) && end <= match) _inflight.Dequeue();
    }

    public void ForgetInflight() => _inflight.Clear();

    /// <summary>A snapshot is on its way: nothing else is sent until it is answered.</summary>
    public bool SnapshotPending { get; set; }

    /// <summary>The snapshot being sent to it in pieces, if any (kept while a request for it is repeated).</summary>
    public SnapshotSending? Transfer { get; set; }

    /// <summary>Heartbeats since the snapshot was asked for: an unanswered one is sent again after an election timeout.</summary>
    public int SnapshotTicks { get; set; }

    /// <summary>Its last answer acknowledged an idle append: it waits <see cref="LeaseConfig.IdleFactor"/> times longer before it would help elect another.</summary>
    public bool IdleAcknowledged { get; set; }

    /// <summary>Heard from within the current check-quorum window.</summary>
    public bool RecentlyActive { get; set; }

    /// <summary>Heard from within the check-quorum window before the current one (for metrics: LeaseLog.InQuorum).</summary>
    public bool ActiveLastWindow { get; set; }

    /// <summary>Ticks since the holder last heard from it (a voter the holder probes once its answers are late).</summary>
    public int Silent { get; set; }

    /// <summary>A connect to its address was refused since it was last heard from: its process is gone.</summary>
    public bool Gone { get; set; }

    /// <summary>It answered: it is neither silent nor gone.</summary>
    public void Heard()
    {
        RecentlyActive = true;
        Silent = 0;
        Gone = false;
    }

    /// <summary>
    /// Heartbeats it has lagged since its log last grew: past a bound, what is in flight is presumed lost. Zero while it
    /// holds the whole log (nothing can be lost then), so a rarely heard learner is not "silent" when an entry arrives.
    /// </summary>
    public int IdleTicks { get; set; }

    /// <summary>
    /// Heartbeat intervals since anything was last sent to it (a learner that holds the whole log gets an empty
    /// heartbeat only past <see cref="LeaseConfig.LearnerHeartbeatIntervals"/>). A new follower starts due.
    /// </summary>
    public int QuietIntervals { get; set; } = int.MaxValue / 2;

    /// <summary>
    /// Its share of the recent commits it completed (its answer made the majority), a moving average: the holder sends
    /// new entries at once to the voters with the largest shares (LeaseLog.QuorumFirst.cs). Zero after it let a deferred
    /// entry wait past the deadline.
    /// </summary>
    public double QuorumShare { get; set; }

    /// <summary>Proposals whose entries were deferred to it since the last append with entries it was sent.</summary>
    public int DeferredRounds { get; set; }

    public override string ToString() => $"match={Match} next={Next} synced={Synced} {(Probing ? "probe" : "replicate")} inflight={Inflight}"
        + (SnapshotPending ? $" snapshot pending{(Transfer is { } t ? $" ({t})" : "")}" : "");
}
