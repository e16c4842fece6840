using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

// Snapshots in pieces: the holder sends its state a piece at a time as the follower acknowledges them; the follower
// takes pieces in order only, has its driver check the whole, and only then installs it. The bytes never pass through
// the machine on the holder (the driver reads the ranges it names) and only pass by on the follower (its driver writes
// them to a file).
public sealed partial class LeaseLog
{
    private readonly List<OutgoingPiece> _piecesOut = [];
    private readonly List<ReceivedPiece> _piecesIn = [];
    private SnapshotAssembly? _assembly;

    /// <summary>
    /// The holder's driver has made a snapshot ready for <paramref name="peer"/> (which it asked for through
    /// <see cref="LeaseReady.SnapshotsToSend"/>). The same snapshot as the transfer under way goes on from what the
    /// follower acknowledged; any other starts from offset 0. Returns the offset it goes on from, or null when the
    /// follower no longer needs a snapshot (or this node no longer holds the lease).
    /// </summary>
    public long? SnapshotPrepared(PeerId peer, SnapshotMeta meta)
    {
        if (!IsHolder || meta.Length < 1 || meta.Voters.Length == 0 || !_progress.TryGetValue(peer, out var p) || !p.SnapshotPending) return null;
        if (p.Transfer is { } t && t.Is(meta.Version, meta.VersionTerm) && t.Meta.Length == meta.Length && t.Meta.Hash.AsSpan().SequenceEqual(meta.Hash))
        {
            // The same bytes: go on from what the follower holds. What was in flight is presumed lost (the request was
            // repeated because nothing came back for a while). The pieces name the driver's current copy.
            t.Meta = meta;
            t.Next = t.Acked;
            t.Silent = 0;
        }
        else
        {
            p.Transfer = new SnapshotSending(meta);
            SnapshotsStarted++;
        }
        p.SnapshotTicks = 0;
        SendPieces(peer, p);
        return p.Transfer.Acked;
    }

    /// <summary>Pieces to <paramref name="peer"/> while fewer than <see cref="LeaseConfig.SnapshotPiecesInflight"/> are unanswered.</summary>
    private void SendPieces(PeerId peer, Progress p)
    {
        if (!p.SnapshotPending || p.Transfer is not { } t) return;
        var size = _config.SnapshotPieceBytes;
        while (t.Next < t.Meta.Length && (t.Next - t.Acked + size - 1) / size < _config.SnapshotPiecesInflight)
        {
            var count = (int)Math.Min(size, t.Meta.Length - t.Next);
            _piecesOut.Add(new OutgoingPiece(peer, Term, t.Meta, t.Next, count));
            t.Next += count;
            p.QuietIntervals = 0;
        }
    }

    private void HandleSnapshotAck(PeerId from, SnapshotAck a)
    {
        if (!_progress.TryGetValue(from, out var p)) return;
        if (a.Life < p.Life) return;   // from before the follower restarted: what it held is gone
        if (a.Life > p.Life)
        {
            if (p.Life != 0) p.Restarted(LastVersion + 1);
            p.Life = a.Life;
        }
        p.Heard();
        if (!p.SnapshotPending || p.Transfer is not { } t || !t.Is(a.Version, a.VersionTerm) || a.Offset < 0 || a.Offset > t.Meta.Length) return;
        if (a.Offset > t.Acked) t.Silent = 0;
        if (a.Gap || a.Offset == 0)
        {
            // It holds exactly that much and no more: a piece after the one it needs arrived first (the one it needs is
            // lost or late), or it lost its partial snapshot (it restarted, the whole did not check out, it started
            // another). Believed even below what it acknowledged before, since an old acknowledgement can overtake
            // this one: sending from too far back costs only duplicates, which it answers with what it truly holds.
            t.Acked = a.Offset;
            t.Next = a.Offset;
        }
        else if (a.Offset > t.Acked)
        {
            t.Acked = a.Offset;
            t.Next = Math.Max(t.Next, a.Offset);
        }
        // Otherwise an old or repeated acknowledgement: nothing new.
        p.SnapshotTicks = 0;
        SendPieces(from, p);
    }

    /// <summary>
    /// A heartbeat interval of a transfer: when no acknowledgement moved it for
    /// <see cref="LeaseConfig.SnapshotResendIntervals"/>, what is in flight is presumed lost and sent again.
    /// </summary>
    private void TickSnapshot(PeerId peer, Progress p)
    {
        if (!p.SnapshotPending || p.Transfer is not { } t) return;
        if (++t.Silent < _config.SnapshotResendIntervals) return;
        t.Silent = 0;
        t.Next = t.Acked;
        SendPieces(peer, p);
    }

    private void HandleSnapshotPiece(PeerId from, SnapshotPiece s)
    {
        if (Holder != from || IsHolder) BecomeFollower(Term, from);
        HeardFromHolder();
        // A diverged node takes the holder's state whatever its version: its own applied state is what must go.
        if (!Diverged && s.Version <= Commit)
        {
            Send(from, new AppendResponse(Term, true, Commit, _synced, Life));
            return;
        }
        if (!Diverged && TermAt(s.Version) == s.VersionTerm)
        {
            // The log already holds it (a late or repeated copy): just commit up to it, and keep what follows.
            Commit = s.Version;
            Send(from, new AppendResponse(Term, true, s.Version, _synced, Life));
            return;
        }
        var id = s.Id;
        var a = _assembly;
        if (a is null || a.Id != id || a.From != from)
        {
            // While the driver checks the whole it has (which can take a minute: it runs off the driver's lock), no
            // other snapshot starts, and its pieces go unanswered: the holder sends again after a silence. Answering
            // each with "start from 0" made every answer a burst of pieces, each answered again (found in simulation
            // with late verdicts: the messages multiplied ninefold a tick).
            if (a is { Checking: true }) return;
            // A piece of another snapshot than the one being assembled. Only its first piece starts it; a later one
            // asks the holder to start from 0. Within one term a holder's snapshots only grow, so a first piece of an
            // older version than the one being assembled is a late copy and changes nothing.
            if (s.Offset != 0)
            {
                Send(from, new SnapshotAck(Term, s.Version, s.VersionTerm, 0, Gap: true, Life));
                return;
            }
            if (a is not null && a.From == from && a.Id.Term == id.Term && a.Id.Version > id.Version) return;
            _assembly = a = new SnapshotAssembly(from, id);
        }
        if (a.Checking) return;
        if (s.Offset != a.Have)
        {
            // A duplicate (before what it holds) or a gap (after): say how much it holds.
            Send(from, new SnapshotAck(Term, s.Version, s.VersionTerm, a.Have, Gap: s.Offset > a.Have, Life));
            return;
        }
        // The wire refuses pieces that do not fit their snapshot; checked again so the machine stands on its own.
        if (s.Data is not { Length: > 0 } || s.Offset + s.Data.Length > id.Length || s.Last != (s.Offset + s.Data.Length == id.Length)) return;
        if (s.Last && (s.Hash is null || s.Voters is not { Length: > 0 })) return;
        _piecesIn.Add(new ReceivedPiece(id, s.Offset, s.Data, s.Last ? s.Hash : null));
        a.Have += s.Data.Length;
        if (!s.Last)
        {
            Send(from, new SnapshotAck(Term, s.Version, s.VersionTerm, a.Have, Gap: false, Life));
            return;
        }
        // The whole is in: the driver checks it (length and hash) before anything is installed.
        a.Checking = true;
        a.Voters = s.Voters!;
    }

    /// <summary>
    /// The driver wrote the last piece of snapshot <paramref name="id"/> and checked the whole: when
    /// <paramref name="verified"/>, it is installed (the next <see cref="Ready"/> says so); otherwise the holder is asked
    /// to send it again from the start. Called after <see cref="Advance"/> of the Ready that carried that last piece.
    /// </summary>
    public void SnapshotAssembled(SnapshotId id, bool verified)
    {
        if (_assembly is not { Checking: true } a || a.Id != id) return;
        _assembly = null;
        if (!verified)
        {
            Send(a.From, new SnapshotAck(Term, id.Version, id.VersionTerm, 0, Gap: false, Life));
            return;
        }
        InstallSnapshot(a.From, id.Version, id.VersionTerm, a.Voters);
    }

    /// <summary>True while this node assembles a snapshot (for status and tests).</summary>
    public bool AssemblingSnapshot => _assembly is not null;

    private void InstallSnapshot(PeerId from, long version, long versionTerm, PeerId[] voterIds)
    {
        // Checked again: the commit version may have moved while the pieces came, or the log reached the version (an
        // append late on the way, even one stepped in the round of the last piece). A snapshot installed over a log that
        // holds it would supersede the entries after it, which this node may have acknowledged and the holder counted
        // towards a majority (LeaseSnapshotInstallGuardTests): it only moves the commit up.
        if (!Diverged && version <= Commit)
        {
            Send(from, new AppendResponse(Term, true, Commit, _synced, Life));
            return;
        }
        if (!Diverged && TermAt(version) == versionTerm)
        {
            Commit = version;
            Send(from, new AppendResponse(Term, true, version, _synced, Life));
            return;
        }
        var voters = new VoterSet(voterIds);
        _unstable.Clear();
        _truncateFrom = null;
        _configs.Clear();
        _baseVoters = voters;
        _snapshotToInstall = (version, versionTerm, voters, Diverged);
        Diverged = false;
        Commit = version;
        // Everything this node held is superseded: it knows no entry past the snapshot, durable or not.
        _synced = version;
        _syncRequested = Math.Min(_syncRequested, version);
        Role = voters.Contains(Self) ? LeaseRole.Voter : LeaseRole.Learner;
        Send(from, new AppendResponse(Term, true, version, version, Life));
    }
}
