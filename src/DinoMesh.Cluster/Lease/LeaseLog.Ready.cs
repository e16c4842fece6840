namespace DinoMesh.Cluster.Lease;

// Output: what the driver must persist, send and apply, and the acknowledgement that it did.
public sealed partial class LeaseLog
{
    private LeaseReady? _handedOut;

    // Filled anew by each Ready: the driver acts on a Ready and advances before it asks for the next.
    private readonly LeaseReady _ready = new();

    /// <summary>True when <see cref="Ready"/> has something to do.</summary>
    public bool HasReady => _hardStateDirty || _snapshotToInstall is not null || _truncateFrom is not null || _unstable.Count > 0
        || _outbox.Count > 0 || _snapshotsToSend.Count > 0 || _piecesOut.Count > 0 || _piecesIn.Count > 0 || _probes.Count > 0 || (_syncWanted && LastVersion > _synced) || Math.Min(Commit, _stable.LastVersion) > _appliedHandedOut;

    private long _appliedHandedOut;

    /// <summary>
    /// Everything to do now. The driver persists, then sends, then applies, then calls <see cref="Advance"/>; nothing
    /// may be stepped into the machine in between.
    /// </summary>
    public LeaseReady Ready()
    {
        if (_handedOut is not null) throw new InvalidOperationException("lease: Ready called twice without Advance");
        var syncLog = _syncWanted && (LastVersion > _synced);
        var syncedAfter = syncLog ? LastVersion : _synced;
        // Answers leave after the log was synced (when asked), so they may say so. A loop, not LINQ: this runs on every
        // round of every node (docs/benchmarks.md, allocations per commit round).
        var messages = _outbox.Count == 0 ? [] : new LeaseEnvelope[_outbox.Count];
        for (var i = 0; i < messages.Length; i++)
        {
            var m = _outbox[i];
            // Copied only when the sync moved what it may say (an answer says what was synced when it was made).
            messages[i] = m.Message is AppendResponse { Success: true } r && Math.Max(r.Synced, Math.Min(syncedAfter, r.Match)) is var synced && synced != r.Synced
                ? m with { Message = r with { Synced = synced } }
                : m;
        }
        var persistedEnd = _unstable.Count > 0 ? LastVersion : _truncateFrom is { } t ? t - 1 : _stable.LastVersion;
        if (_snapshotToInstall is { } snap) persistedEnd = Math.Max(persistedEnd, snap.Version);
        var ready = _ready;
        ready.HardState = _hardStateDirty || Commit != _lastCommitHandedOut ? new HardState(Term, Vote, Commit) : null;
        ready.HardStateMustSync = _hardStateMustSync;
        ready.Snapshot = _snapshotToInstall is { } s ? (s.Version, s.Term) : null;
        ready.SnapshotReplaces = _snapshotToInstall is { Replaces: true };
        ready.TruncateFrom = _truncateFrom;
        ready.Entries = Copy(_unstable);
        ready.SyncLog = syncLog;
        ready.Messages = messages;
        ready.SnapshotsToSend = Copy(_snapshotsToSend);
        ready.PiecesToSend = Copy(_piecesOut);
        ready.PiecesReceived = Copy(_piecesIn);
        ready.CommittedTo = Math.Min(Commit, persistedEnd);
        ready.Probes = Copy(_probes);
        _handedOut = ready;
        return ready;
    }

    /// <summary>A copy of <paramref name="items"/>, or the shared empty array when there are none (most lists, most rounds).</summary>
    private static T[] Copy<T>(List<T> items) => items.Count == 0 ? [] : items.ToArray();

    private long _lastCommitHandedOut;

    /// <summary>
    /// A holder's messages, taken out before the Ready that persists its new entries, so the driver can send them first
    /// and write its own log while the followers write theirs (Raft thesis §10.2.1: the leader may append to its disk in
    /// parallel with replicating). What a holder sends (appends, commit notices, a leadership transfer, refusals of votes)
    /// depends on none of its own unpersisted entries: its entries count towards a majority only once persisted
    /// (<see cref="MaybeCommit"/> takes this node's own value from the log view, not from the entries in memory), and it
    /// applies only what is in its own log (<see cref="LeaseReady.CommittedTo"/>). They do depend on its term and vote
    /// (an append in a term this node's disk does not hold yet must not leave), so nothing is taken while those wait to be
    /// synced; then the Ready sends everything, after the sync, as before. Empty on a node that does not hold the lease.
    /// </summary>
    public IReadOnlyList<LeaseEnvelope> TakeMessagesBeforePersist()
    {
        if (!IsHolder || _handedOut is not null || _hardStateMustSync || _outbox.Count == 0) return [];
        var messages = _outbox.ToArray();
        _outbox.Clear();
        return messages;
    }

    /// <summary>The driver did everything <paramref name="ready"/> asked.</summary>
    public void Advance(LeaseReady ready)
    {
        if (!ReferenceEquals(ready, _handedOut)) throw new InvalidOperationException("lease: Advance of a Ready that was not handed out");
        _handedOut = null;
        _hardStateDirty = false;
        _hardStateMustSync = false;
        if (ready.HardState is { } hs) _lastCommitHandedOut = hs.Commit;
        _snapshotToInstall = null;
        _truncateFrom = null;
        _unstable.RemoveRange(0, ready.Entries.Count);
        if (ready.Snapshot is { } snap) _synced = Math.Max(_synced, snap.Version);
        if (ready.SyncLog) _synced = Math.Max(_synced, ready.Entries.Count > 0 ? ready.Entries[^1].Version : _stable.LastVersion);
        if (_synced >= _syncRequested) _syncWanted = false;
        _outbox.Clear();
        _snapshotsToSend.Clear();
        _piecesOut.Clear();
        _piecesIn.Clear();
        _probes.Clear();
        // After a replacing snapshot the applied state is the snapshot's: what was handed out past it is void.
        if (ready.SnapshotReplaces && ready.Snapshot is { } replaced) _appliedHandedOut = replaced.Version;
        _appliedHandedOut = Math.Max(_appliedHandedOut, ready.CommittedTo);
        // This node's own entries are persisted now: as holder, they count towards a majority.
        MaybeCommit();
        TellCommit();
    }
}
