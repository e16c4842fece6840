namespace DinoMesh.Cluster.Lease;

// The idle lease: a log nobody writes to needs no lease renewed every 150 ms. After a few quiet heartbeat rounds the
// holder renews it LeaseConfig.IdleFactor times less often and says so in every append; a follower told so stretches
// its election timeout and lease by that factor. The order keeps the lease safe: a voter stretches its window before
// the holder counts on it (the holder stretches its check-quorum window only once a majority acknowledged an idle
// append), and when work resumes the holder shrinks its own window before it tells anyone (its next append, which
// goes out at once with the proposal, says "not idle"). Only timing changes; terms, votes and commits do not.
public sealed partial class LeaseLog
{
    // On the holder: the log is idle (heartbeats and check-quorum stretched), and quiet rounds counted towards it.
    private bool _idle;
    private int _quietRounds;

    // On a follower: the holder's last append said the log is idle.
    private bool _holderIdle;

    /// <summary>The lease runs slow because nothing is being written (holder: it said so; follower: it was told so).</summary>
    public bool IdleLease => IsHolder ? _idle : _holderIdle;

    /// <summary>How many times slower this node's clocks run now: heartbeats, timeouts, gossip.</summary>
    private int LeaseScale => IdleLease ? _config.IdleFactor : 1;

    /// <summary>The holder's heartbeat interval now.</summary>
    private int HeartbeatInterval => _config.HeartbeatTicks * (IsHolder && _idle ? _config.IdleFactor : 1);

    /// <summary>
    /// The holder's check-quorum window now: stretched only once a majority of voters (this one included) acknowledged an
    /// idle append, since only those voters wait longer before they help elect another.
    /// </summary>
    private int CheckQuorumTicks
    {
        get
        {
            if (!_idle || _config.IdleFactor == 1) return _config.ElectionTicks;
            var acknowledged = Voters.Voters.Count(v => v == Self || (_progress.TryGetValue(v, out var p) && p.IdleAcknowledged));
            return acknowledged >= Voters.Quorum ? _config.ElectionTicks * _config.IdleFactor : _config.ElectionTicks;
        }
    }

    /// <summary>
    /// At each heartbeat round on the holder: one more quiet round when nothing is under way (every entry committed,
    /// every voter that answers holding all of it, no fsync waiting, no transfer); the lease idles after enough of them.
    /// </summary>
    private void NoteHeartbeatRound()
    {
        if (!LogQuiet())
        {
            WakeLease();
            return;
        }
        if (_idle || _config.IdleFactor == 1) return;
        if (++_quietRounds >= _config.IdleAfterRounds) _idle = true;
    }

    private bool LogQuiet()
    {
        if (Commit != LastVersion || Transferring) return false;
        if (_syncRequested > SyncedCommit && _syncRequested <= LastVersion) return false;
        foreach (var voter in Voters.Voters)
        {
            if (voter == Self) continue;
            if (!_progress.TryGetValue(voter, out var p)) return false;
            // A voter silent for a whole check-quorum window, or whose process is gone, waits for nothing the holder
            // sends: a dead voter is kept while dropping it would not help (VoterPolicy), and must not keep the log
            // awake for good. Once it answers again it lags, and the lease wakes.
            if (p.Gone || (!p.RecentlyActive && !p.ActiveLastWindow)) continue;
            if (p.Match != LastVersion || p.SnapshotPending) return false;
        }
        return true;
    }

    /// <summary>
    /// Work arrived (a proposal, an fsync, a transfer, a follower that lags): heartbeats and check-quorum go back to the
    /// normal pace at once, before any append says so.
    /// </summary>
    private void WakeLease()
    {
        _quietRounds = 0;
        if (!_idle) return;
        _idle = false;
        // The next heartbeat within a normal interval; a check-quorum window that ran long is judged on the next tick.
        if (_heartbeatElapsed > _config.HeartbeatTicks) _heartbeatElapsed = _config.HeartbeatTicks;
    }
}
