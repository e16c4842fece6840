using System.Buffers;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Storage.Metadata;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Lease;

// Acting on the machine's output, in the order it demands.
public sealed partial class LeaseDriver
{
    private long _applyTarget;
    private readonly List<PeerId> _snapshotRequests = [];

    /// <summary>Pieces the machine named, read from the snapshot file and sent after the lock is released.</summary>
    private readonly List<OutgoingPiece> _piecesToSend = [];

    private long _lastCommitPersistTicks;

    // Proposals whose appends are being flushed before their entries are written (LeaseDriver.Propose): while there are
    // any, the machine's output waits for their threads.
    private int _proposalsFlushing;

    /// <summary>
    /// Drains every Ready, unless a proposal's appends are being flushed (<see cref="_proposalsFlushing"/>): its thread
    /// drains right after, this input's round with its own. Caller holds the lock.
    /// </summary>
    private void ProcessLocked()
    {
        if (_proposalsFlushing > 0)
        {
            _roundsDeferred++;
            return;
        }
        ProcessNowLocked();
    }

    /// <summary>Drains every Ready. Caller holds the lock. A failure to act on one stops the driver for good.</summary>
    private void ProcessNowLocked()
    {
        if (_failure is not null) return;
        try
        {
            DrainReadyLocked();
        }
        catch (Exception e)
        {
            FailLocked(e);
        }
    }

    /// <summary>Stops the driver for good: the machine or its log threw, and a half-done round cannot be trusted.</summary>
    private void FailLocked(Exception e)
    {
        if (_failure is not null) return;
        _failure = e;
        if (_stopping.IsCancellationRequested)
        {
            // Stopping: the log may close under a last input; that is the end of the driver, not a failure.
            _failureAnnounced = 1;
            _logger.LogDebug("lease: input while stopping failed ({Error})", e.Message);
            return;
        }
        _logger.LogCritical(e, "lease: the lease machine or its log failed ({Error}); this node stops taking part (restarted, it recovers from its log)", e.Message);
    }

    /// <summary>
    /// Acts on every Ready, then keeps the hold-back deadlines: what was held back and is due by now goes with this
    /// round (a second pass over the Readies), not at the clock's next pass. Two passes at most: what the second pass
    /// leaves held has its deadline ahead (it only sets the clock), else the clock passes at once for it.
    /// </summary>
    private void DrainReadyLocked()
    {
        for (var pass = 0; ; pass++)
        {
            DrainRoundsLocked();
            if (!KeepHoldBackDeadlinesLocked(maySend: pass == 0)) return;
        }
    }

    private void DrainRoundsLocked()
    {
        for (var round = 0; _machine.HasReady && round < 1000; round++)
        {
            var ready = _machine.Ready();
            if (ready.HardState is { } hs && ready.HardStateMustSync)
            {
                // Term and vote are on disk (written in place, fdatasynced) before any message that depends on them leaves.
                _log.RecordLeaseVote(new LeaseVote(hs.Term, hs.Vote.ToBytes(), _persistedCommit, _life), sync: true);
            }
            // Pieces are in the file before their acknowledgements leave; the last one starts the check of the whole,
            // off the lock (LeaseDriver.SnapshotPrepare), which tells the machine when it is done.
            // By index throughout: a foreach over the Ready's lists (interfaces) allocates an enumerator each, every round.
            for (var i = 0; i < ready.PiecesReceived.Count; i++) WritePieceLocked(ready.PiecesReceived[i]);
            if (ready.Snapshot is { } snapshot) InstallAssembledLocked(snapshot.Version, snapshot.Term, ready.SnapshotReplaces);
            if (ready.TruncateFrom is { } from)
            {
                _logger.LogInformation("lease: dropping uncommitted entries from version {From} (a later holder replaced them)", from);
                _log.TruncateSuffix(from);
                _view.Truncated(from);
            }
            if (ready.Entries.Count > 0)
            {
                // Whatever the holder ordered must go in (the reserve included): a full disk is checked before a
                // change is accepted, not after it is in the log of a majority.
                var records = new LogRecord[ready.Entries.Count];
                for (var i = 0; i < records.Length; i++) records[i] = new LogRecord(ready.Entries[i].Version, ready.Entries[i].Term, ready.Entries[i].Payload);
                _log.AppendBatch(records, mayUseReserve: true);
                _view.Appended(ready.Entries);
            }
            if (ready.SyncLog)
            {
                var synced = _replica.Sync();
                if (synced != FsError.None) _logger.LogError("lease: log sync failed: {Error}", synced);
            }
            for (var i = 0; i < ready.Messages.Count; i++)
            {
                var message = ready.Messages[i];
                if (_answerTo is { } answer && answer.Peer == message.Peer) answer.Messages.Add(message.Message);
                else _network.Send(message.Peer, message.Message);
            }
            for (var i = 0; i < ready.SnapshotsToSend.Count; i++) _snapshotRequests.Add(ready.SnapshotsToSend[i]);
            _piecesToSend.AddRange(ready.PiecesToSend);
            _applyTarget = Math.Max(_applyTarget, ready.CommittedTo);
            for (var i = 0; i < ready.Probes.Count; i++) StartProbeLocked(ready.Probes[i]);
            _machine.Advance(ready);
        }
        // A snapshot assembled but not installed (the log reached its version meanwhile) is of no further use.
        if (!_machine.AssemblingSnapshot && !_machine.HasReady) DropAssembledLocked();
        PersistCommit(force: false);
        CompleteSyncWaitersLocked();
        RescheduleLocked();
    }

    /// <summary>
    /// What follows a round outside the lock: apply newly committed entries (the replica raises its events), send the
    /// round's messages and snapshots, tell listeners about a new holder.
    /// </summary>
    private void AfterProcess()
    {
        if (Volatile.Read(ref _failure) is { } failure)
        {
            if (Interlocked.Exchange(ref _failureAnnounced, 1) == 0) Failed?.Invoke(failure);
            return;
        }
        ApplyCommitted();
        PeerId[] snapshotsFor;
        OutgoingPiece[] pieces;
        LeaseRole role;
        PeerId holder;
        lock (_gate)
        {
            // Mostly empty: the shared empty array then, not a new one per round.
            snapshotsFor = _snapshotRequests.Count == 0 ? [] : [.. _snapshotRequests];
            _snapshotRequests.Clear();
            pieces = _piecesToSend.Count == 0 ? [] : [.. _piecesToSend];
            _piecesToSend.Clear();
            role = _machine.Role;
            holder = _machine.Holder;
        }
        foreach (var peer in snapshotsFor) _ = Task.Run(() => PrepareSnapshot(peer));
        SendPieces(pieces);
        // The round's messages leave from this thread (see ILeaseNetwork.Flush): after the apply, so a proposer waiting on
        // this node is answered first; what the round sends to followers is not on that proposer's path.
        _network.Flush();
        if (role != _lastRole || holder != _lastHolder)
        {
            var wasHolder = _lastRole == LeaseRole.Holder;
            // A holder's snapshot file is of no use to a follower (a later holder sends its own).
            if (wasHolder && role != LeaseRole.Holder) _outgoing.Drop();
            (_lastRole, _lastHolder) = (role, holder);
            if (role == LeaseRole.Holder && !wasHolder) _logger.LogInformation("lease: this node holds the lease (term {Term})", Status.Term);
            else if (wasHolder && role != LeaseRole.Holder) _logger.LogInformation("lease: this node no longer holds the lease");
            else if (!holder.IsEmpty) _logger.LogDebug("lease: holder is {Holder}", holder.Short);
            HolderChanged?.Invoke(role, holder);
        }
    }

    /// <summary>
    /// Applies what is committed and announces it, with any snapshot installed or state replaced under the lock (whose
    /// events wait until no lock is held: a listener may call back into the driver).
    /// </summary>
    private void ApplyCommitted()
    {
        var target = Interlocked.Read(ref _applyTarget);
        try
        {
            var announced = target > _replica.Current.Version ? _replica.ApplyCommitted(target, _ahead) : _replica.Announce();
            if (announced > 0) AppliedRound?.Invoke();
        }
        catch (InvalidDataException e)
        {
            // A committed entry that does not apply means this replica diverged: stop applying rather than guess.
            _logger.LogCritical("lease: {Error}; this node's metadata needs a snapshot from a peer (move its data directory aside and restart it)", e.Message);
        }
    }

    /// <summary>
    /// A holder's snapshot for a follower too far behind: the replica's state as applied, encoded to a file off the lock
    /// (or the one made before, while the log still holds its version); the machine then names the pieces to send.
    /// </summary>
    private void PrepareSnapshot(PeerId peer)
    {
        try
        {
            var meta = _outgoing.GetOrMake(() => _replica.Current, _log.TermAt);
            if (meta is null) return;   // retried by the machine after a while
            long? from;
            lock (_gate)
            {
                if (!_machine.IsHolder) return;
                AdvanceLocked();
                from = _machine.SnapshotPrepared(peer, meta);
                ProcessLocked();
            }
            if (from is { } offset)
            {
                _logger.LogInformation("lease: sending a snapshot at version {Version} ({Bytes} bytes, pieces of {Piece}) to {Peer} from byte {Offset}",
                    meta.Version, meta.Length, _timing.Machine.SnapshotPieceBytes, peer.Short, offset);
            }
            AfterProcess();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            _logger.LogWarning("lease: snapshot for {Peer} failed: {Error}", peer.Short, e.Message);
        }
    }

    /// <summary>Reads the pieces the machine named from the snapshot file and sends them (outside the lock).</summary>
    private void SendPieces(IReadOnlyList<OutgoingPiece> pieces)
    {
        foreach (var piece in pieces)
        {
            try
            {
                // Null when the snapshot was replaced meanwhile: the follower's transfer times out and starts again.
                if (_outgoing.Read(piece) is { } data) _network.Send(piece.Peer, piece.ToMessage(data));
            }
            catch (IOException e)
            {
                _logger.LogWarning("lease: snapshot piece for {Peer} not read: {Error}", piece.Peer.Short, e.Message);
            }
        }
    }

    /// <summary>
    /// Writes a piece of the snapshot this follower assembles; after the last, checks the whole (length, SHA-256) and
    /// returns the verdict for the machine.
    /// </summary>
    private void WritePieceLocked(ReceivedPiece piece)
    {
        if (piece.Offset == 0)
        {
            _logger.LogInformation("lease: receiving a snapshot at version {Version} ({Bytes} bytes) from the holder", piece.Id.Version, piece.Id.Length);
        }
        _assembler.Write(piece);
        if (piece.Last) StartPreparingLocked(piece.Id, piece.Hash!);
    }

    /// <summary>
    /// Installs the holder's snapshot, which the machine asks for only past its commit and when its log does not hold
    /// the snapshot's version in its term. The log keeps what Raft keeps (<see cref="SnapshotInstall"/>): entries from the
    /// version on go only when they contradict it, and those before it go with the save, not before. What the
    /// preparation made (the decoded state, the log's copy written ahead) is used when it is of this snapshot; otherwise
    /// (never on the node's path, kept as the safe way) it is decoded and copied here, from the transfer's file, mapped.
    /// </summary>
    private void InstallAssembledLocked(long version, long term, bool replaces)
    {
        var prepared = _prepared is { } p && p.Version == version && p.Term == term ? p : null;
        if (prepared is null && _prepared is { } other) _replica.Abandon(other);
        _prepared = null;
        try
        {
            if (replaces)
            {
                // The diverged node's replacement rewrites the whole log: the copy written ahead is not the one it keeps.
                if (prepared is not null) _replica.Abandon(prepared);
                using var mapped = _assembler.Open(version);
                ReplaceStateLocked(version, term, prepared?.State, mapped.Bytes);
                return;
            }
            if (SnapshotInstall.DropContradicted(_log, version, term) is { } from)
            {
                _logger.LogInformation("lease: dropping entries from version {From}: the holder's snapshot at that version is of term {Term}", from, term);
                _view.Truncated(from);
            }
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            if (prepared is not null)
            {
                // The prepared copy holds everything: the transfer's file goes before the new state is published, so
                // whoever sees the version also sees the file gone.
                _assembler.Discard();
                _replica.InstallSnapshot(prepared);
            }
            else
            {
                using var mapped = _assembler.Open(version);
                _replica.InstallSnapshot(term, mapped.Bytes);
            }
            _logger.LogInformation("lease: snapshot at version {Version} installed in {Ms:F0} ms under the lock ({How})", version,
                System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, prepared is not null ? "prepared ahead" : "decoded and copied here");
            _view.SnapshotChanged();
            _snapshotsInstalled++;
            _applyTarget = Math.Max(_applyTarget, version);
        }
        finally
        {
            _assembler.Discard();
        }
    }

    /// <summary>
    /// This node diverged (its applied state holds entries a majority power loss took back): the holder's snapshot
    /// replaces the log and the state, and nothing past it is applied until the holder commits it again.
    /// </summary>
    private void ReplaceStateLocked(long version, long term, FileSystemState? decoded, ReadOnlySequence<byte> state)
    {
        _logger.LogWarning("lease: the holder's log contradicts entries this node applied (a majority of voters lost power since the last fsync); taking its snapshot at version {Version}", version);
        if (decoded is not null) _replica.ReplaceState(term, decoded, state);
        else _replica.ReplaceState(term, state);
        _view.Truncated(0);
        _view.SnapshotChanged();
        _snapshotsInstalled++;
        Interlocked.Exchange(ref _applyTarget, version);
    }

    /// <summary>
    /// The commit version is advisory (a restart replays only up to it, and learns the rest from the holder), so it
    /// is written at most once a second, and at stop.
    /// </summary>
    private void PersistCommit(bool force)
    {
        // A failed driver writes nothing more: its log is what failed (or was closed under it), and the stop at
        // disposal must not throw that failure a second time.
        // Nor does one never started (disposed before Start: no machine, nothing to record).
        if (_failure is not null || _machine is null) return;
        var commit = Math.Min(_machine.Commit, _log.LastVersion);
        if (commit == _persistedCommit) return;
        var now = Environment.TickCount64;
        if (!force && now - _lastCommitPersistTicks < 1000) return;
        _lastCommitPersistTicks = now;
        try
        {
            var vote = _log.LeaseVote;
            _log.RecordLeaseVote(new LeaseVote(vote?.Term ?? _machine.Term, vote?.Vote ?? [], commit, _life), sync: false);
            _persistedCommit = commit;
        }
        catch (IOException e)
        {
            _logger.LogDebug("lease: commit version not recorded: {Error}", e.Message);
        }
    }
}
