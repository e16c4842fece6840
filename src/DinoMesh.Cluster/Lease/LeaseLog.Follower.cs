using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Followers (voters and learners): appends and snapshots from the holder.
public sealed partial class LeaseLog
{
    private void HandleAppend(PeerId from, Append a)
    {
        if (Role is LeaseRole.PreCandidate or LeaseRole.Candidate or LeaseRole.Holder || Holder != from) BecomeFollower(Term, from);
        _electionElapsed = 0;
        var prev = a.PrevVersion;
        var prevTerm = a.PrevTerm;
        var entries = a.Entries ?? [];
        if (prev < Commit)
        {
            // What this node has committed can never differ from the holder's log: skip to the first entry after it.
            var skip = (int)Math.Min(entries.Length, Commit - prev);
            entries = entries[skip..];
            prev += skip;
            prevTerm = skip > 0 ? a.Entries![skip - 1].Term : prevTerm;
            if (prev < Commit)
            {
                // Entirely below the commit point: nothing to do but say how far this log matches.
                Send(from, new AppendResponse(Term, true, Commit, _synced, Life));
                return;
            }
        }
        if (TermAt(prev) != prevTerm)
        {
            Send(from, new AppendResponse(Term, false, Math.Max(Commit, Math.Min(LastVersion, prev - 1)), _synced, Life));
            return;
        }
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
        var newCommit = Math.Min(a.Commit, matched);
        if (newCommit > Commit) Commit = newCommit;
        if (a.SyncTo > _synced)
        {
            _syncRequested = Math.Max(_syncRequested, Math.Min(a.SyncTo, matched));
            _syncWanted = true;
        }
        Send(from, new AppendResponse(Term, true, matched, _synced, Life));
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
