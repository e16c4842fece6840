using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Dissemination beside the holder: every member tells another, round robin, how far it has committed; a member that
// learns it is behind while the holder's appends are not reaching it (a slow or cut link to the holder, a holder busy
// with others) pulls the committed entries it lacks from that member. Committed entries are the same in every log, so
// they may come from anyone; none of this touches terms, votes or the lease.
public sealed partial class LeaseLog
{
    private int _gossipElapsed;
    private int _gossipCursor;
    // Ticks since this node asked for entries, or -1 when no pull is outstanding: one at a time, forgotten if lost.
    private int _pullElapsed = -1;
    // Gossip rounds in a row in which this node's commit version did not move, and the version last told.
    private int _stableGossipRounds;
    private long _lastToldCommit = -1;

    /// <summary>
    /// Ticks between gossip rounds: <see cref="LeaseConfig.GossipTicks"/>, or <see cref="LeaseConfig.IdleFactor"/> times
    /// that once this node's commit version has stood still for <see cref="LeaseConfig.IdleAfterRounds"/> rounds. Paced by
    /// the node's own commits, not by the idle lease: a member cut off from the holder must keep hearing digests at the
    /// normal pace for a while after the last commit it could have missed, whatever it last heard from the holder.
    /// </summary>
    private int GossipInterval => _config.GossipTicks * (_stableGossipRounds >= _config.IdleAfterRounds ? _config.IdleFactor : 1);

    private void TickGossip()
    {
        if (_pullElapsed >= 0 && ++_pullElapsed > _config.PullTimeoutTicks) _pullElapsed = -1;
        if (++_gossipElapsed < GossipInterval) return;
        _gossipElapsed = 0;
        _stableGossipRounds = Commit == _lastToldCommit ? _stableGossipRounds + 1 : 0;
        _lastToldCommit = Commit;
        // Round robin around the ring of members, starting after this node: when every member's rounds line up, each
        // is told by exactly one other per round, rather than all of them telling the same one.
        var ring = _members.Append(Self).Distinct().Order().ToList();
        if (ring.Count < 2) return;
        var step = 1 + _gossipCursor++ % (ring.Count - 1);
        Send(ring[(ring.IndexOf(Self) + step) % ring.Count], new LogDigest(Term, Commit));
    }

    private void HandleDigest(PeerId from, LogDigest d)
    {
        if (IsHolder || _snapshotToInstall is not null || d.Commit <= Commit || _pullElapsed >= 0) return;
        // The holder's appends are the normal path: pull only when they have not come for a few heartbeats, or when
        // this node is falling behind although they do.
        var holderQuiet = Holder.IsEmpty || _electionElapsed >= 3 * _config.HeartbeatTicks * LeaseScale;
        if (!holderQuiet && d.Commit - Commit < _config.PullLag) return;
        _pullElapsed = 0;
        Send(from, new LogPull(Term, Commit + 1, _config.MaxEntriesPerMessage));
    }

    private void HandlePull(PeerId from, LogPull p)
    {
        if (p.From < 1 || p.From > Commit || p.MaxCount < 1) return;
        var prev = p.From - 1;
        var prevTerm = TermAt(prev);
        // Folded into a snapshot here: only the holder can help (with its snapshot).
        if (prevTerm < 0) return;
        var entries = Entries(p.From, Math.Min(p.MaxCount, _config.MaxEntriesPerMessage), _config.MaxBytesPerMessage)
            .TakeWhile(e => e.Version <= Commit).ToArray();
        if (entries.Length > 0) Send(from, new LogEntries(Term, prev, prevTerm, entries, Commit));
    }

    private void HandleEntries(PeerId from, LogEntries m)
    {
        _pullElapsed = -1;
        if (IsHolder || _snapshotToInstall is not null) return;
        // Entries of a term this node has not reached would sit in its log above its own term, and a campaign of its
        // next term could then append below them: those wait for the holder's append, which brings the term along.
        var entries = (m.Entries ?? []).TakeWhile(e => e.Term <= Term).ToArray();
        if (entries.Length == 0) return;
        var before = Commit;
        var last = LastVersion;
        Accept(m.PrevVersion, m.PrevTerm, entries, Math.Min(m.Commit, entries[^1].Version), fromHolder: false, out _);
        EntriesPulled += Math.Max(0, LastVersion - last);
        if (Commit > before && m.Commit > Commit && entries.Length == m.Entries!.Length)
        {
            // More where these came from: go on at once rather than wait for the next round of gossip.
            _pullElapsed = 0;
            Send(from, new LogPull(Term, Commit + 1, _config.MaxEntriesPerMessage));
        }
    }
}
