using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// The holder: proposals, replication to every member, commit, fsync across voters, leadership transfer.
public sealed partial class LeaseLog
{
    /// <summary>
    /// Appends entries made of <paramref name="payloads"/> in this holder's term; returns the version of the first, or
    /// -1 when this node cannot take proposals (not the holder, or handing the lease over). A follower named as
    /// <paramref name="proposer"/> waits to apply its own change (read-your-writes), so it is told of their commit at
    /// once (<see cref="CommitAwaited"/>); the others learn it with the next append (LeaseLog.Notices.cs).
    /// </summary>
    public long Propose(IReadOnlyList<byte[]> payloads, PeerId proposer = default)
    {
        if (!IsHolder || Transferring || payloads.Count == 0) return -1;
        WakeLease();
        var first = LastVersion + 1;
        for (var i = 0; i < payloads.Count; i++) AppendLocal(payloads[i]);
        // Noted, not told yet: a notice it is owed now rides on the append below (TellCommit sends what is left).
        if (!proposer.IsEmpty && proposer != Self && _progress.TryGetValue(proposer, out var waiting))
        {
            waiting.AwaitsCommit = Math.Max(waiting.AwaitsCommit, LastVersion);
        }
        foreach (var peer in Followers)
        {
            // A follower the majority does not need gets these later, with the next ones (LeaseLog.QuorumFirst.cs).
            if (_progress.TryGetValue(peer, out var p) && EntriesWaiting(p) && Deferring(peer, p)) p.DeferredRounds++;
            else SendAppendIfReady(peer);
        }
        MaybeCommit();
        TellCommit();
        return first;
    }

    /// <summary>Asks that everything up to <paramref name="version"/> be made durable on a majority of voters (fsync).</summary>
    public void RequestSync(long version)
    {
        if (version <= _syncRequested) return;
        _syncRequested = version;
        if (IsHolder) WakeLease();
        if (_synced < Math.Min(version, LastVersion)) _syncWanted = true;
        if (IsHolder) BroadcastAppend();
    }

    /// <summary>Hands the lease to <paramref name="target"/> once its log is complete (graceful stop, busiest writer).</summary>
    public bool TransferTo(PeerId target)
    {
        if (!IsHolder || target == Self || !Voters.Contains(target) || !_progress.TryGetValue(target, out var p)) return false;
        WakeLease();
        _transferTarget = target;
        _transferElapsed = 0;
        TransfersStarted++;
        if (p.Match == LastVersion) Send(target, new TimeoutNow(Term));
        else SendAppend(target, p, heartbeat: false);
        return true;
    }

    private void AppendLocal(byte[] payload)
    {
        var entry = new LogEntry(LastVersion + 1, Term, payload);
        _unstable.Add(entry);
        NoteConfig(entry);
    }

    private void TickHolder()
    {
        _heartbeatElapsed++;
        _electionElapsed++;
        if (Transferring && ++_transferElapsed >= _config.ElectionTicks) _transferTarget = default;
        if (_electionElapsed >= CheckQuorumTicks)
        {
            _electionElapsed = 0;
            // Check-quorum: a holder that cannot reach a majority steps down, so a partitioned minority stops taking
            // writes it can never commit, and the majority side's new holder is the only one.
            var active = Voters.Voters.Count(v => v == Self || (_progress.TryGetValue(v, out var p) && p.RecentlyActive));
            if (active < Voters.Quorum)
            {
                BecomeFollower(Term, default);
                return;
            }
            foreach (var p in _progress.Values)
            {
                // Kept for one more window: InQuorum asks about the last election timeout, not since this check.
                p.ActiveLastWindow = p.RecentlyActive;
                p.RecentlyActive = false;
            }
        }
        MaybeProbeVoters();
        if (_heartbeatElapsed >= HeartbeatInterval)
        {
            _heartbeatElapsed = 0;
            NoteHeartbeatRound();
            BroadcastAppend();
        }
        // Members that joined since the last tick get progress (and their first append) here.
        foreach (var peer in Followers.Where(p => !_progress.ContainsKey(p)).ToList())
        {
            WakeLease();
            _progress[peer] = new Progress { Next = LastVersion + 1, RecentlyActive = true };
        }
    }

    /// <summary>
    /// A heartbeat round: entries a follower lacks when the pipeline has room (re-sent from the last acknowledged
    /// version when a lagging follower has been silent for <see cref="LeaseConfig.ResendTicks"/>, which repairs lost
    /// messages), or else an empty append carrying the commit version — to every voter, and to a learner only when one
    /// is due (<see cref="HeartbeatDue"/>).
    /// </summary>
    private void BroadcastAppend()
    {
        foreach (var peer in Followers)
        {
            if (!_progress.TryGetValue(peer, out var p)) _progress[peer] = p = new Progress { Next = LastVersion + 1, RecentlyActive = true };
            if (p.SnapshotPending && ++p.SnapshotTicks >= _config.ElectionTicks)
            {
                // Lost on the way, or its sender could not make one: ask again.
                p.SnapshotPending = false;
                p.SnapshotTicks = 0;
            }
            TickSnapshot(peer, p);
            p.QuietIntervals++;
            p.IdleTicks = p.Match < LastVersion ? p.IdleTicks + 1 : 0;
            if (p.Match < LastVersion && p.IdleTicks > _config.ResendTicks && !p.SnapshotPending)
            {
                // Nothing heard for a while: what was in flight is presumed lost; start again from what it holds.
                p.IdleTicks = 0;
                p.Next = p.Match + 1;
                p.Probing = true;
                p.ForgetInflight();
                SendAppend(peer, p, heartbeat: false);
                continue;
            }
            var canSend = !p.SnapshotPending && p.Next <= LastVersion && (p.Probing ? p.Inflight == 0 : p.Inflight < _config.MaxInflight);
            if (!canSend && !HeartbeatDue(peer, p)) continue;
            SendAppend(peer, p, heartbeat: !canSend);
        }
    }

    /// <summary>
    /// Whether an empty heartbeat goes to <paramref name="peer"/> this interval: always to a voter (it renews the lease
    /// that keeps voters from campaigning), and to a learner only while it lags, or when it has been sent nothing for
    /// <see cref="LeaseConfig.LearnerHeartbeatIntervals"/> (then it carries the commit version a lost push may have missed),
    /// or when the log has gone idle and it has not acknowledged that yet (it would otherwise expect the normal pace).
    /// </summary>
    private bool HeartbeatDue(PeerId peer, Progress p) =>
        Voters.Contains(peer) || p.Match < LastVersion || p.SnapshotPending || Math.Min(Commit, p.Match) > p.CommitSent
        || p.QuietIntervals >= _config.LearnerHeartbeatIntervals || (_idle && !p.IdleAcknowledged);

    private void SendAppendIfReady(PeerId peer)
    {
        if (!_progress.TryGetValue(peer, out var p) || p.SnapshotPending) return;
        if (p.Probing ? p.Inflight > 0 : p.Inflight >= _config.MaxInflight) return;
        if (p.Next > LastVersion) return;
        if (Deferring(peer, p))
        {
            // Its appends wait for more entries or the deadline; a notice it is owed waits with them.
            return;
        }
        SendAppend(peer, p, heartbeat: false);
    }

    private void SendAppend(PeerId peer, Progress p, bool heartbeat)
    {
        if (heartbeat)
        {
            // Anchored at what the follower is known to hold, so it is accepted whatever is still in flight.
            var matchTerm = TermAt(p.Match);
            if (matchTerm < 0) return;
            p.CommitSent = Math.Min(Commit, p.Match);
            p.QuietIntervals = 0;
            Send(peer, new Append(Term, p.Match, matchTerm, [], p.CommitSent, SyncTarget(), _idle));
            return;
        }
        var prev = p.Next - 1;
        var prevTerm = TermAt(prev);
        if (prevTerm < 0)
        {
            // The entries it needs were folded into a snapshot: it gets the whole state, in pieces.
            p.SnapshotPending = true;
            p.SnapshotTicks = 0;
            if (!_snapshotsToSend.Contains(peer)) _snapshotsToSend.Add(peer);
            return;
        }
        var entries = Entries(p.Next, _config.MaxEntriesPerMessage, _config.MaxBytesPerMessage);
        if (entries.Length > 0 && HoldCommitNotices && NoticeOwed(p)) NoticesCarried++;
        if (entries.Length > 0) EndDeferral(p);
        p.QuietIntervals = 0;
        Send(peer, new Append(Term, prev, prevTerm, entries, Commit, SyncTarget(), _idle));
        p.CommitSent = Math.Max(p.CommitSent, Math.Min(Commit, prev + entries.Length));
        if (entries.Length == 0) return;
        p.Sent(entries[^1].Version);
        if (!p.Probing) p.Next = entries[^1].Version + 1;
    }

    private long SyncTarget() => _syncRequested > 0 ? Math.Min(_syncRequested, LastVersion) : 0;

    /// <summary>Entries from <paramref name="from"/>: persisted ones from the log view, then the not yet persisted.</summary>
    private LogEntry[] Entries(long from, int maxCount, long maxBytes)
    {
        var result = new List<LogEntry>();
        long bytes = 0;
        var firstUnstable = _unstable.Count > 0 ? _unstable[0].Version : long.MaxValue;
        if (from < firstUnstable && (_truncateFrom is null || from < _truncateFrom))
        {
            var stableEnd = Math.Min(firstUnstable, _truncateFrom ?? long.MaxValue);
            foreach (var e in _stable.Read(from, maxCount, maxBytes))
            {
                if (e.Version >= stableEnd) break;
                result.Add(e);
                bytes += e.Payload.Length;
            }
            from = result.Count > 0 ? result[^1].Version + 1 : from;
            if (result.Count > 0 && from < stableEnd) return [.. result];
        }
        foreach (var e in _unstable)
        {
            if (e.Version < from) continue;
            if (result.Count >= maxCount || (result.Count > 0 && bytes + e.Payload.Length > maxBytes)) break;
            result.Add(e);
            bytes += e.Payload.Length;
        }
        return [.. result];
    }

    private void HandleAppendResponse(PeerId from, AppendResponse r)
    {
        if (!_progress.TryGetValue(from, out var p)) _progress[from] = p = new Progress { Next = LastVersion + 1 };
        if (r.Life < p.Life) return;   // an answer from before the follower restarted: what it said may be gone
        if (r.Life > p.Life)
        {
            if (p.Life != 0) p.Restarted(LastVersion + 1);
            p.Life = r.Life;
        }
        p.Heard();
        p.IdleAcknowledged = r.Idle;
        if (r.Diverged)
        {
            // Its applied state holds entries this log does not: only this node's state can replace it.
            p.Match = 0;
            p.Synced = 0;
            p.ForgetInflight();
            if (!p.SnapshotPending)
            {
                p.SnapshotPending = true;
                p.SnapshotTicks = 0;
                if (!_snapshotsToSend.Contains(from)) _snapshotsToSend.Add(from);
            }
            return;
        }
        p.SnapshotPending = false;
        // Installed (or caught up another way): a later snapshot for it starts afresh. Otherwise the transfer stays, so
        // a repeated request for the same snapshot goes on from what the follower holds.
        if (p.Transfer is { } transfer && r.Success && r.Match >= transfer.Meta.Version) p.Transfer = null;
        // Silence is measured in progress, not in answers: heartbeats are answered while lost appends never are.
        if (r.Match > p.Match || r.Match >= LastVersion) p.IdleTicks = 0;
        // Only the part known to equal this holder's log counts as durable for it.
        p.Synced = Math.Max(p.Synced, Math.Min(r.Synced, r.Success ? Math.Max(r.Match, p.Match) : p.Match));
        if (r.Success)
        {
            if (r.Match > p.Match) p.Match = r.Match;
            p.Acknowledged(r.Match);
            if (p.Inflight == 0 && p.Next > p.Match + 1)
            {
                // Nothing in flight, yet it holds less than was sent (a new member, or appends lost): send from its end.
                p.Next = p.Match + 1;
            }
            p.Next = Math.Max(p.Next, p.Match + 1);
            p.Probing = false;
            var before = Commit;
            MaybeCommit();
            if (Commit > before && Voters.Contains(from)) CreditQuorum(from);
            if (_transferTarget == from && p.Match == LastVersion) Send(from, new TimeoutNow(Term));
            // Entries still to send carry the new commit version: the notice to this follower rides on them.
            SendAppendIfReady(from);
            TellCommit();
        }
        else
        {
            // Refused: the follower's log ends at (or differs before) r.Match. Step back to there and probe.
            if (r.Match < p.Match) return;   // a stale refusal: a newer answer already moved past it
            if (Voters.Contains(from)) WakeLease();
            p.Next = Math.Max(p.Match + 1, Math.Min(p.Next - 1, r.Match + 1));
            p.Probing = true;
            p.ForgetInflight();
            SendAppendIfReady(from);
        }
    }

    /// <summary>Commits the newest version a majority of voters holds, if it is of this term (Raft §5.4.2).</summary>
    private void MaybeCommit()
    {
        if (!IsHolder) return;
        var candidate = QuorumValue(static p => p.Match, _stable.LastVersion);
        if (candidate <= Commit || TermAt(candidate) != Term) return;
        Commit = candidate;
    }
}
