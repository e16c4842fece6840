using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Followers (voters and learners): appends and snapshots from the holder.
public sealed partial class LeaseLog
{
    private void HandleAppend(PeerId from, Append a)
    {
        if (Role is LeaseRole.PreCandidate or LeaseRole.Candidate or LeaseRole.Holder || Holder != from) BecomeFollower(Term, from);
        _electionElapsed = 0;
        // Entirely below the commit point: Accept only says how far this log matches, and there is nothing to sync.
        var belowCommit = a.PrevVersion + (a.Entries?.Length ?? 0) < Commit;
        if (Accept(a.PrevVersion, a.PrevTerm, a.Entries ?? [], a.Commit) is not { } matched)
        {
            Send(from, new AppendResponse(Term, false, Math.Max(Commit, Math.Min(LastVersion, a.PrevVersion - 1)), _synced, Life));
            return;
        }
        if (a.SyncTo > _synced && !belowCommit)
        {
            _syncRequested = Math.Max(_syncRequested, Math.Min(a.SyncTo, matched));
            _syncWanted = true;
        }
        Send(from, new AppendResponse(Term, true, matched, _synced, Life));
    }

    /// <summary>
    /// Lays <paramref name="entries"/>, which follow <paramref name="prev"/> of <paramref name="prevTerm"/> in the log they
    /// come from, over this node's log, and moves the commit version up to <paramref name="commit"/> as far as the logs
    /// now match. Returns how far this log matches theirs, or null when this node does not hold
    /// <paramref name="prev"/> in that term (nothing changed).
    /// </summary>
    private long? Accept(long prev, long prevTerm, LogEntry[] entries, long commit)
    {
        if (prev < Commit)
        {
            // What this node has committed can never differ from the holder's log: skip to the first entry after it.
            var skip = (int)Math.Min(entries.Length, Commit - prev);
            prevTerm = skip > 0 ? entries[skip - 1].Term : prevTerm;
            entries = entries[skip..];
            prev += skip;
            // Entirely below the commit point: nothing to do but say how far this log matches.
            if (prev < Commit) return Commit;
        }
        if (TermAt(prev) != prevTerm) return null;
        var i = 0;
        for (; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e.Version > LastVersion) break;
            if (TermAt(e.Version) == e.Term) continue;
            if (e.Version <= Commit) throw new InvalidOperationException($"lease: entry {e.Version} conflicts with a committed entry (commit {Commit})");
            TruncateLocal(e.Version);
            break;
        }
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

    private void HandleInstallSnapshot(PeerId from, InstallSnapshot s)
    {
        if (Holder != from || IsHolder) BecomeFollower(Term, from);
        _electionElapsed = 0;
        if (s.Version <= Commit)
        {
            Send(from, new AppendResponse(Term, true, Commit, _synced, Life));
            return;
        }
        if (TermAt(s.Version) == s.VersionTerm)
        {
            // The log already holds it: just commit up to it.
            Commit = s.Version;
            Send(from, new AppendResponse(Term, true, s.Version, _synced, Life));
            return;
        }
        if (s.Voters is not { Length: > 0 }) return;
        var voters = new VoterSet(s.Voters);
        _unstable.Clear();
        _truncateFrom = null;
        _configs.Clear();
        _baseVoters = voters;
        _snapshotToInstall = (s.Version, s.VersionTerm, s.State, voters);
        Commit = s.Version;
        Role = voters.Contains(Self) ? LeaseRole.Voter : LeaseRole.Learner;
        Send(from, new AppendResponse(Term, true, s.Version, s.Version, Life));
    }
}
