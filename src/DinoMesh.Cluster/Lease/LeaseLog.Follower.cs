using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Followers (voters and learners): appends and snapshots from the holder.
public sealed partial class LeaseLog
{
    private void HandleAppend(PeerId from, Append a)
    {
        if (Role is LeaseRole.PreCandidate or LeaseRole.Candidate or LeaseRole.Holder || Holder != from) BecomeFollower(Term, from);
        HeardFromHolder();
        _holderIdle = a.Idle && _config.IdleFactor > 1;
        if (Diverged)
        {
            // Nothing is laid over a state that must be replaced; every answer asks again (a snapshot can be lost).
            Send(from, new AppendResponse(Term, false, Commit, _synced, Life, Diverged: true, Idle: _holderIdle));
            return;
        }
        // Entirely below the commit point: Accept only says how far this log matches, and there is nothing to sync.
        var belowCommit = a.PrevVersion + (a.Entries?.Length ?? 0) < Commit;
        if (Accept(a.PrevVersion, a.PrevTerm, a.Entries ?? [], a.Commit, fromHolder: true, out var diverged) is not { } matched)
        {
            // A holder's log that contradicts what this node committed and applied: a majority lost power and with it
            // entries committed since the last fsync. Only the holder's state can replace what this node applied.
            if (diverged) Diverged = true;
            Send(from, new AppendResponse(Term, false, Math.Max(Commit, Math.Min(LastVersion, a.PrevVersion - 1)), _synced, Life, Diverged, _holderIdle));
            return;
        }
        if (a.SyncTo > _synced && !belowCommit)
        {
            _syncRequested = Math.Max(_syncRequested, Math.Min(a.SyncTo, matched));
            _syncWanted = true;
        }
        Send(from, new AppendResponse(Term, true, matched, _synced, Life, Idle: _holderIdle));
    }

    /// <summary>
    /// True once the holder's log contradicted an entry this node had committed (possible only after a majority of
    /// voters lost power together, taking back entries committed since the last fsync): this node's applied state holds
    /// changes the cluster no longer has, and waits for the holder's snapshot to replace it.
    /// </summary>
    public bool Diverged { get; private set; }

    /// <summary>The committed entry this node holds at <paramref name="version"/> is not of <paramref name="term"/>.</summary>
    private bool ContradictsCommitted(long version, long term) =>
        version > 0 && version <= Commit && TermAt(version) is var mine && mine >= 0 && mine != term;

    /// <summary>
    /// Lays <paramref name="entries"/>, which follow <paramref name="prev"/> of <paramref name="prevTerm"/> in the log they
    /// come from, over this node's log, and moves the commit version up to <paramref name="commit"/> as far as the logs
    /// now match. Returns how far this log is known to match theirs, or null when this node does not hold
    /// <paramref name="prev"/> in that term (nothing changed). <paramref name="diverged"/> says the refusal is because
    /// they contradict an entry this node committed. Entries pulled from a member that is not the holder
    /// (<paramref name="fromHolder"/> false) never replace an entry of a later term here: only a holder may overrule.
    /// </summary>
    private long? Accept(long prev, long prevTerm, LogEntry[] entries, long commit, bool fromHolder, out bool diverged)
    {
        diverged = false;
        if (prev < Commit)
        {
            // What this node has committed is the same in every log, unless a majority lost power since the last fsync:
            // check what this log still holds, then skip to the first entry after the commit point.
            var skip = (int)Math.Min(entries.Length, Commit - prev);
            diverged = ContradictsCommitted(prev, prevTerm);
            for (var k = 0; k < skip && !diverged; k++) diverged = ContradictsCommitted(entries[k].Version, entries[k].Term);
            if (diverged) return null;
            prevTerm = skip > 0 ? entries[skip - 1].Term : prevTerm;
            entries = entries[skip..];
            prev += skip;
            // Entirely below the commit point: they match as far as they go (not beyond: the rest is unchecked).
            if (prev < Commit) return prev;
        }
        if (TermAt(prev) != prevTerm) return null;
        var i = 0;
        for (; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e.Version > LastVersion) break;
            var mine = TermAt(e.Version);
            if (mine == e.Term) continue;
            if (e.Version <= Commit)
            {
                diverged = true;
                return null;
            }
            // A pulled entry is committed where it came from; one of an older term than this node's cannot overrule it.
            if (!fromHolder && mine > e.Term) break;
            TruncateLocal(e.Version);
            break;
        }
        if (!fromHolder && i < entries.Length && entries[i].Version <= LastVersion) return prev + i;
        for (; i < entries.Length; i++)
        {
            if (entries[i].Version != LastVersion + 1) break;   // a hole: refuse the rest, the holder resends
            _unstable.Add(entries[i]);
            NoteConfig(entries[i]);
        }
        var matched = prev + i;
        var newCommit = Math.Min(commit, matched);
        if (newCommit > Commit) Commit = newCommit;
        return matched;
    }

    /// <summary>Drops this node's entries from <paramref name="version"/> on (a holder of a later term overrode them).</summary>
    private void TruncateLocal(long version)
    {
        ForgetConfigsFrom(version);
        if (_unstable.Count > 0 && version >= _unstable[0].Version)
        {
            _unstable.RemoveRange((int)(version - _unstable[0].Version), _unstable.Count - (int)(version - _unstable[0].Version));
            return;
        }
        _unstable.Clear();
        _truncateFrom = Math.Min(_truncateFrom ?? long.MaxValue, version);
        if (_synced >= version) _synced = version - 1;
    }
}
