using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Quorum first: a commit needs the holder and enough followers for a majority of voters, not every follower. So the
// holder sends new entries at once only to that many voters (the quick ones: those that lately completed the majority
// first) and lets the others' appends gather, like a learner's, until LeaseConfig.DeferredAppendEntries entries wait
// or the driver's deadline (LeaseTiming.DeferredAppendDelay) passes; then they go in one append, which also carries
// the commit version (their commit notices wait with them). The others still vote: an entry deferred to them is
// committed by them if the quick ones fail, at most one deadline and one round trip later. Each append costs both ends
// a call (TLS record, wake-ups, decode, log write, answer), and with one writer on 3 nodes the third node paid that for
// every commit although the second had already made the majority.
//
// Nothing is deferred that someone waits for: a follower that proposed an entry or asked for a read index, every
// follower while an fsync waits, a follower being handed the lease, one being probed or sent a snapshot. A quick voter
// that lets a deferred entry wait past the deadline loses its place (its share drops to zero), and one whose answers
// are late, or whose process is gone, is never quick: the others take its place at once. With too few voters fit to be
// quick, everything goes to everyone at once. Deferral changes when messages leave, never what they say, so the
// protocol's safety does not depend on it. The driver stops deferring while it does not pay (DeferAppends).
public sealed partial class LeaseLog
{
    /// <summary>Weight of the latest commit in a voter's <see cref="Progress.QuorumShare"/>.</summary>
    private const double QuorumShareWeight = 1.0 / 16;

    /// <summary>
    /// Send new entries at once only to the quick voters and defer the others' (the default, unless
    /// <see cref="LeaseConfig.DeferredAppendEntries"/> is 0); false sends every append at once. The driver turns it off
    /// while deferred appends keep going alone (<see cref="DeferralsAlone"/>): nothing then follows to share the call.
    /// </summary>
    public bool DeferAppends { get; set; } = true;

    /// <summary>Deferred appends that went with the entries of two or more proposals: each saved at least one call.</summary>
    public long DeferralsMerged { get; private set; }

    /// <summary>
    /// Deferred appends that carried the entries of one proposal only (at the deadline, or because the follower came to
    /// wait for them): deferring saved nothing there, and the follower learnt later.
    /// </summary>
    public long DeferralsAlone { get; private set; }

    /// <summary>Quick voters that let a deferred entry wait the whole deadline and lost their place (status only).</summary>
    public long QuickVotersDemoted { get; private set; }

    /// <summary>On the holder: the voters new entries go to at once (all of them while nothing is deferred).</summary>
    public IReadOnlyList<PeerId> QuickVoters => IsHolder
        ? [.. Voters.Voters.Where(v => v != Self && _progress.TryGetValue(v, out var p) && (!DeferAppends || _config.DeferredAppendEntries == 0 || IsQuick(v, p)))]
        : [];

    /// <summary>
    /// On the holder: some follower has entries waiting that could be sent now, or a deferred follower is owed a commit
    /// notice. The driver then arms its deadline (<see cref="LeaseTiming.DeferredAppendDelay"/>) and calls
    /// <see cref="SendDeferredAppends"/> when it passes.
    /// </summary>
    public bool AppendsDeferred
    {
        get
        {
            if (!IsHolder) return false;
            foreach (var (peer, p) in _progress)
            {
                if (EntriesWaiting(p) || (NoticeOwed(p) && Deferring(peer, p))) return true;
            }
            return false;
        }
    }

    /// <summary>
    /// The oldest entry deferred to any follower (long.MaxValue when none is, even if a notice waits): the driver's
    /// deadline runs from when it became the oldest, so an entry that goes out at a count leaves a younger one its own
    /// full wait.
    /// </summary>
    public long DeferredFrom
    {
        get
        {
            var from = long.MaxValue;
            if (!IsHolder) return from;
            foreach (var p in _progress.Values)
            {
                if (EntriesWaiting(p)) from = Math.Min(from, p.Next);
            }
            return from;
        }
    }

    /// <summary>
    /// The deadline for deferred appends passed (the driver's clock): what waits goes now, entries and notices.
    /// <paramref name="overdue"/> is an entry that has waited the whole deadline since it was deferred (long.MaxValue
    /// when none has: the deadline ran for a notice, or for an entry deferred before it that has gone since). A quick
    /// voter that has not acknowledged it by now is too slow to be counted on: it loses its place.
    /// </summary>
    public void SendDeferredAppends(long overdue = long.MaxValue)
    {
        if (!IsHolder) return;
        if (overdue != long.MaxValue && Commit < overdue && overdue <= LastVersion)
        {
            var late = Voters.Voters.Where(v => v != Self && _progress.TryGetValue(v, out var q) && q.Match < overdue && IsQuick(v, q)).ToList();
            foreach (var voter in late) _progress[voter].QuorumShare = 0;
            QuickVotersDemoted += late.Count;
        }
        foreach (var (peer, p) in _progress)
        {
            if (EntriesWaiting(p)) SendAppend(peer, p, heartbeat: false);
            else if (NoticeOwed(p) && Deferring(peer, p))
            {
                if (HoldCommitNotices)
                {
                    NoticesSentAlone++;
                    NoticesAloneDeferred++;
                }
                SendAppend(peer, p, heartbeat: true);
            }
        }
    }

    /// <summary>Entries the follower lacks that could be sent now (nothing stops them but a deferral).</summary>
    private bool EntriesWaiting(Progress p) =>
        !p.SnapshotPending && p.Next <= LastVersion && (p.Probing ? p.Inflight == 0 : p.Inflight < _config.MaxInflight);

    /// <summary>Appends to <paramref name="peer"/> wait now instead of leaving at once.</summary>
    private bool Deferring(PeerId peer, Progress p)
    {
        var count = _config.DeferredAppendEntries;
        if (!DeferAppends || count == 0 || !IsHolder) return false;
        if (p.Probing || p.SnapshotPending || peer == _transferTarget) return false;
        // Someone waits for what it would be sent: a proposer or reader on that node, or an fsync on a majority.
        if (p.AwaitsCommit > p.CommitSent || SyncTarget() > SyncedCommit) return false;
        if (LastVersion - p.Next + 1 >= count) return false;
        return !IsQuick(peer, p);
    }

    /// <summary>
    /// One of the voters sent to at once: the holder and they make a majority. The fittest by share of the commits they
    /// completed lately, then by how much of the log they hold; every voter when too few are fit (answering, not gone,
    /// not being probed). Learners are never quick.
    /// </summary>
    private bool IsQuick(PeerId peer, Progress p)
    {
        var voters = Voters;
        if (!voters.Contains(peer)) return false;
        var needed = voters.Quorum - (voters.Contains(Self) ? 1 : 0);
        var fit = 0;
        var ahead = 0;
        var peerFit = FitToBeQuick(p);
        // By index, here and in CreditQuorum: a foreach over the voters' interface allocates an enumerator every round.
        for (var i = 0; i < voters.Voters.Count; i++)
        {
            var voter = voters.Voters[i];
            if (voter == Self || !_progress.TryGetValue(voter, out var q) || !FitToBeQuick(q)) continue;
            fit++;
            if (voter != peer && peerFit && RanksAbove(voter, q, peer, p)) ahead++;
        }
        if (fit < needed) return true;
        return peerFit && ahead < needed;
    }

    private bool FitToBeQuick(Progress p) =>
        !p.Gone && !p.Probing && !p.SnapshotPending && p.Silent < HeartbeatInterval + _config.HeartbeatTicks;

    private static bool RanksAbove(PeerId a, Progress pa, PeerId b, Progress pb)
    {
        if (pa.QuorumShare != pb.QuorumShare) return pa.QuorumShare > pb.QuorumShare;
        if (pa.Match != pb.Match) return pa.Match > pb.Match;
        return a < b;
    }

    /// <summary>
    /// <paramref name="completer"/>'s answer moved the commit version: it made the majority. Its share of the recent
    /// commits grows and every other voter's shrinks, so the quick ones are those that lately answered first.
    /// </summary>
    private void CreditQuorum(PeerId completer)
    {
        for (var i = 0; i < Voters.Voters.Count; i++)
        {
            var voter = Voters.Voters[i];
            if (voter == Self || !_progress.TryGetValue(voter, out var q)) continue;
            q.QuorumShare = q.QuorumShare * (1 - QuorumShareWeight) + (voter == completer ? QuorumShareWeight : 0);
        }
    }

    /// <summary>An append with entries leaves for a follower: judges the deferral it ends, if any.</summary>
    private void EndDeferral(Progress p)
    {
        if (p.DeferredRounds >= 2) DeferralsMerged++;
        else if (p.DeferredRounds == 1) DeferralsAlone++;
        p.DeferredRounds = 0;
    }
}
