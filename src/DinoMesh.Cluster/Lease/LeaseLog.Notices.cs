using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Commit notices: when a follower learns that the commit version moved. Every append carries the holder's commit
// version, so a follower the holder sends entries to anyway learns it for free; an empty append that carries only the
// new commit version costs a call (and its answer) at both ends, which was half of a commit's lease calls with one
// writer. So a notice is owed, not sent: it rides on the next append to that follower, or goes out alone when the
// driver's deadline for owed notices passes (LeaseTiming.CommitNoticeDelay, a millisecond) or with the next heartbeat.
// A follower that waits for the commit is told at once: one that proposed an entry (read-your-writes), one that asked
// for a read index (close-to-open), and every voter while an fsync waits (the notice carries the sync target). The
// driver stops holding notices back while it does not pay (HoldCommitNotices).
public sealed partial class LeaseLog
{
    /// <summary>
    /// Hold notices nobody waits for until the next append or the deadline (the default); false sends every one at
    /// once, as soon as the follower holds the committed entries. The driver turns it off while holding does not pay
    /// (<see cref="CommitNoticePolicy"/>): when no append follows soon, the notices only wait.
    /// </summary>
    public bool HoldCommitNotices { get; set; } = true;

    /// <summary>
    /// Notices held back that then rode on an append with entries: each saved a call. A running count the driver's
    /// <see cref="CommitNoticePolicy"/> reads the change of after every round.
    /// </summary>
    public long NoticesCarried { get; private set; }

    /// <summary>
    /// Notices held back that then went alone, in an empty append: at the deadline, or when the follower asked for the
    /// commit before an append came (a read index). Holding saved nothing there, and the follower learnt later. Notices
    /// that go at once (awaited when they become owed, an fsync waiting, holding off) are neither.
    /// </summary>
    public long NoticesSentAlone { get; private set; }

    /// <summary>
    /// Of <see cref="NoticesSentAlone"/>, those that went because the follower came to wait for the commit (its own
    /// proposal retried, a read index) before an append carried them (status only: tells a burst of these from one of
    /// deadlines). Those for a deferred follower at the deferral's deadline are <see cref="NoticesAloneDeferred"/>; the
    /// rest went at the notice deadline.
    /// </summary>
    public long NoticesAloneAwaited { get; private set; }

    /// <summary>Of <see cref="NoticesSentAlone"/>, those of a deferred follower that went at the deferral's deadline with no entries to carry them.</summary>
    public long NoticesAloneDeferred { get; private set; }

    /// <summary>
    /// <paramref name="peer"/> waits until it has applied <paramref name="version"/>: its own proposal, or the read index
    /// it was given. A notice that lets it apply that far is never held back: owed now, it goes at once; owed later (the
    /// follower has not acknowledged the entries yet), it goes as soon as it is.
    /// </summary>
    public void CommitAwaited(PeerId peer, long version)
    {
        if (!IsHolder || peer.IsEmpty || peer == Self || !_progress.TryGetValue(peer, out var p)) return;
        p.AwaitsCommit = Math.Max(p.AwaitsCommit, version);
        // Entries deferred to it go now: it waits for them (LeaseLog.QuorumFirst.cs), and they carry the notice.
        if (p.Match < version && EntriesWaiting(p)) SendAppendIfReady(peer);
        if (!NoticeOwed(p) || p.AwaitsCommit <= p.CommitSent) return;
        if (HoldCommitNotices)
        {
            NoticesSentAlone++;
            NoticesAloneAwaited++;
        }
        SendAppend(peer, p, heartbeat: true);
    }

    /// <summary>
    /// On the holder: some follower holds entries up to a commit version it has not been sent. The driver then arms its
    /// deadline (<see cref="LeaseTiming.CommitNoticeDelay"/>) and calls <see cref="SendCommitNotices"/> when it passes.
    /// </summary>
    public bool CommitNoticesOwed
    {
        get
        {
            if (!IsHolder) return false;
            // A deferred follower's notice waits with its entries, for their deadline (AppendsDeferred).
            foreach (var (peer, p) in _progress)
            {
                if (NoticeOwed(p) && !Deferring(peer, p)) return true;
            }
            return false;
        }
    }

    /// <summary>The deadline for owed notices passed (the driver's clock): each goes out now, as an empty append.</summary>
    public void SendCommitNotices()
    {
        if (!IsHolder) return;
        foreach (var (peer, p) in _progress)
        {
            if (!NoticeOwed(p) || Deferring(peer, p)) continue;
            NoticesSentAlone++;
            SendAppend(peer, p, heartbeat: true);
        }
    }

    /// <summary>
    /// The follower holds entries past the commit version it was last sent. (A heartbeat is anchored at the follower's
    /// match, so one whose match was folded into a snapshot cannot be told that way; it learns from the entries or the
    /// snapshot it is sent instead, and owes nothing meanwhile.)
    /// </summary>
    private bool NoticeOwed(Progress p) => !p.SnapshotPending && Math.Min(Commit, p.Match) > p.CommitSent && TermAt(p.Match) >= 0;

    /// <summary>
    /// After the commit version moved, or a follower acknowledged entries: notices that someone waits on go now (a
    /// follower awaiting its own proposal or a read index, or any while an fsync waits for voters to sync); the rest
    /// stay owed for the next append, the driver's deadline or the next heartbeat. (Each follower learns only as far as
    /// it holds the log.)
    /// </summary>
    private void TellCommit()
    {
        bool? syncWaits = null;
        foreach (var (peer, p) in _progress)
        {
            if (!NoticeOwed(p)) continue;
            // A deferred follower's notice rides on its deferred append (one that waits is never deferred).
            if (Deferring(peer, p)) continue;
            if (!HoldCommitNotices || p.AwaitsCommit > p.CommitSent || (syncWaits ??= SyncTarget() > SyncedCommit)) SendAppend(peer, p, heartbeat: true);
        }
    }
}
