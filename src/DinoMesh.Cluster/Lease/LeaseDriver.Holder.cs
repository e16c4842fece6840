using System.Diagnostics;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Lease;

// The holder's side: checking and appending proposals, fsync across voters, handing the lease over.
public sealed partial class LeaseDriver
{
    /// <summary>
    /// Checks <paramref name="mutation"/> against the newest state (every entry appended so far, committed or not) and
    /// appends it. Answers at once; the proposer learns of the commit when it applies the entry.
    /// <para>The appends to the followers leave before this node writes the entry to its own log: the round's send
    /// happens outside the lock, then the lock is taken again for the write (and whatever else the round holds). The
    /// followers' appends and answers then overlap this node's write instead of following it, which took about a
    /// tenth of the holder's part of a commit round (docs/benchmarks.md). Nothing is counted or applied earlier: the
    /// machine counts this node towards a majority, and applies, only what is in its log
    /// (<see cref="LeaseLog.TakeMessagesBeforePersist"/>). An answer that comes back before the write finds the lock
    /// held, or the round still this proposer's (below), and is handled after the write.</para>
    /// <para>This order is for latency only, not for safety: Raft lets a leader write its entry before, after or while its
    /// appends travel (thesis §10.2.1), since it counts itself and applies only from its log. What keeps it: while the
    /// appends are being flushed (between the two turns under the lock) no other thread acts on the machine's output
    /// (<see cref="ProcessLocked"/> leaves it to the proposer while <see cref="_proposalsFlushing"/> is not 0), because that
    /// output holds this entry and acting on it writes it: an answer, a tick or a hold-back deadline that took the lock in
    /// that gap wrote the entry first and the appends left after it. The proposer acts on everything right after its flush.
    /// Flushing under the lock instead would put the transport's TLS write (and an answer it may run inline, which calls
    /// back into this driver) under the lock. With another proposal's appends still flushing, this one's entry is written
    /// by that proposal's thread, after this returns.</para>
    /// </summary>
    public ProposeResponse Propose(Mutation mutation, byte[] encoded)
    {
        ProposeResponse response;
        bool sentFirst;
        lock (_gate)
        {
            if (_failure is not null || _machine is null) return new ProposeResponse(ProposeOutcome.NotHolder, 0, 0, default);
            AdvanceLocked();
            if (!_machine.IsHolder || _machine.Transferring)
            {
                _proposalsNotHolder++;
                return new ProposeResponse(ProposeOutcome.NotHolder, 0, 0, _machine.Holder);
            }
            response = ProposeLocked(mutation, encoded);
            CountProposalLocked(response.Outcome);
            // Nothing changed for a refusal; an appended (or retried) change has appends and notices to send.
            if (response.Outcome is not (ProposeOutcome.Appended or ProposeOutcome.Duplicate)) return response;
            sentFirst = QueueSendsBeforePersistLocked();
            if (sentFirst) _proposalsFlushing++;
            else ProcessLocked();
        }
        if (sentFirst)
        {
            try
            {
                _network.Flush();
            }
            finally
            {
                // Always: until this count is back, no other thread acts on the machine's output.
                lock (_gate)
                {
                    _proposalsFlushing--;
                    ProcessLocked();
                }
            }
        }
        AfterProcess();
        return response;
    }

    private void CountProposalLocked(ProposeOutcome outcome)
    {
        switch (outcome)
        {
            case ProposeOutcome.Appended: _proposalsAppended++; break;
            case ProposeOutcome.Duplicate: _proposalsRetried++; break;
            case ProposeOutcome.Refused: _proposalsRefused++; break;
            default: _proposalsNotHolder++; break;
        }
    }

    /// <summary>
    /// Queues the messages the holder may send before persisting its new entries (a lone voter has none); true when
    /// there were some, which the caller flushes outside the lock before the round's Ready is acted on.
    /// </summary>
    private bool QueueSendsBeforePersistLocked()
    {
        var early = _machine.TakeMessagesBeforePersist();
        for (var i = 0; i < early.Count; i++) _network.Send(early[i].Peer, early[i].Message);
        return early.Count > 0;
    }

    private ProposeResponse ProposeLocked(Mutation mutation, byte[] encoded)
    {
        var tip = TipLocked();
        // Apply answers a retry first (a duplicate is found before anything else is checked), so it is asked once.
        var result = tip.Apply(mutation);
        if (result.Effect.Duplicate)
        {
            // A retry of a change already in the log: its proposer waits to apply it, so its commit notice goes at once.
            _machine.CommitAwaited(mutation.Proposer, tip.Version);
            return new ProposeResponse(ProposeOutcome.Duplicate, tip.Version, 0, Self);
        }
        if (!result.Ok) return new ProposeResponse(ProposeOutcome.Refused, 0, (int)result.Error, Self);
        try
        {
            _log.EnsureRoom(encoded.Length + 64, FreesSpace(mutation));
        }
        catch (LogFullException)
        {
            return new ProposeResponse(ProposeOutcome.Refused, 0, (int)FsError.NoSpace, Self);
        }
        var version = _machine.Propose([encoded], mutation.Proposer);
        if (version != result.State.Version)
        {
            // The tip and the machine disagree: rebuild the tip from the log next time rather than trust it.
            _tip = null;
            _logger.LogError("lease: proposal went to version {Version}, the tip expected {Expected}", version, result.State.Version);
            return new ProposeResponse(ProposeOutcome.NotHolder, 0, 0, default);
        }
        _tip = result.State;
        _ahead.Add(_machine.Term, tip, mutation, encoded, result);
        NoteProposer(mutation.Proposer);
        return new ProposeResponse(ProposeOutcome.Appended, version, 0, Self);
    }

    /// <summary>
    /// The changes that may use the log's reserve on a full disk: those that let a user empty a full volume from inside.
    /// Everything else gets ENOSPC once the disk is full.
    /// </summary>
    private static bool FreesSpace(Mutation mutation) => mutation.Kind switch
    {
        RemoveEntry or Rename or ReleaseOrphans or RemoveMember or Noop => true,
        SetAttributes { Size: 0 } => true,
        _ => false,
    };

    /// <summary>
    /// The state after every entry in this holder's log. Rebuilt from the applied state and the log's tail when the
    /// term changed (a new holder inherits entries it did not check itself), and when the replica applied an entry
    /// from the log instead of taking the tip's result (<see cref="AppliedAhead.Broken"/>): the tip's states then no
    /// longer continue the replica's, and only a tip built on the replica's own state lets the next results be reused.
    /// </summary>
    private FileSystemState TipLocked()
    {
        if (_tip is not null && _tipTerm == _machine.Term && !_ahead.Broken) return _tip;
        // The log must hold every entry before the tip is rebuilt from it: written now even while another proposal's
        // appends are flushing (rare: a rebuild is once per term or after an apply that did not take the tip's result),
        // which then costs that proposal its overlap, nothing more.
        ProcessNowLocked();
        _ahead.Restart();
        var state = _replica.Current;
        foreach (var record in _log.ReadFrom(state.Version + 1))
        {
            var mutation = MutationCodec.Decode(record.Payload);
            var result = state.Apply(mutation);
            if (!result.Ok) throw new InvalidDataException($"log entry {record.Version} does not apply to the tip at {state.Version} ({result.Error})");
            _ahead.Add(record.Term, state, mutation, record.Payload, result);
            state = result.State;
        }
        _tip = state;
        _tipTerm = _machine.Term;
        return state;
    }

    /// <summary>
    /// Waits until everything up to <paramref name="version"/> is durable (fdatasynced) on a majority of voters. Only the
    /// holder can tell; elsewhere the answer is NotHolder (null).
    /// </summary>
    public Task<FsError>? SyncOnHolder(long version)
    {
        Task<FsError> task;
        lock (_gate)
        {
            AdvanceLocked();
            if (!_machine.IsHolder) return null;
            var done = new TaskCompletionSource<FsError>(TaskCreationOptions.RunContinuationsAsynchronously);
            _syncWaiters.Add((version, done, Environment.TickCount64 + (long)_timing.CommitTimeout.TotalMilliseconds));
            _machine.RequestSync(version);
            ProcessLocked();
            task = done.Task;
        }
        AfterProcess();
        return task;
    }

    /// <summary>
    /// The commit version a reader must reach to have seen everything acknowledged so far; null unless this node holds
    /// the lease and has committed an entry of its term (before that its commit version may lag its predecessor's).
    /// Answered from the lease without a round of heartbeats: a holder cut off from the majority steps down within an
    /// election timeout, so a stale answer is possible only inside that window. <paramref name="asker"/> (a follower
    /// that asked over the network) waits to apply that far: a commit notice it is owed goes to it at once.
    /// </summary>
    public long? ReadIndexOnHolder(PeerId asker = default)
    {
        long commit;
        lock (_gate)
        {
            AdvanceLocked();
            if (!_machine.CommittedInCurrentTerm) return null;
            commit = _machine.Commit;
            if (asker.IsEmpty) return commit;
            _machine.CommitAwaited(asker, commit);
            if (!_machine.HasReady) return commit;
            ProcessLocked();
        }
        AfterProcess();
        return commit;
    }

    private void CompleteSyncWaitersLocked()
    {
        if (_syncWaiters.Count == 0) return;
        var synced = _machine.SyncedCommit;
        var now = Environment.TickCount64;
        for (var i = _syncWaiters.Count - 1; i >= 0; i--)
        {
            var (version, done, deadline) = _syncWaiters[i];
            if (synced >= version) done.TrySetResult(FsError.None);
            else if (!_machine.IsHolder) done.TrySetResult(FsError.TimedOut);
            else if (now > deadline) done.TrySetResult(FsError.TimedOut);
            else continue;
            _syncWaiters.RemoveAt(i);
        }
    }

    /// <summary>Hands the lease to the most up-to-date other voter and waits (bounded) until it has it.</summary>
    public async Task TransferLeaseAsync(TimeSpan timeout)
    {
        PeerId target;
        lock (_gate)
        {
            AdvanceLocked();
            if (!_machine.IsHolder) return;
            var matches = _machine.Matches;
            target = _machine.Voters.Voters.Where(v => v != Self).OrderByDescending(v => matches.GetValueOrDefault(v)).FirstOrDefault();
            if (target.IsEmpty || !_machine.TransferTo(target)) return;
            ProcessLocked();
        }
        AfterProcess();
        _logger.LogInformation("lease: handing the lease to {Peer}", target.Short);
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < timeout)
        {
            lock (_gate)
            {
                AdvanceLocked();
                if (!_machine.IsHolder) return;
            }
            await Task.Delay(_timing.Tick);
        }
        _logger.LogWarning("lease: {Peer} did not take the lease within {Timeout}", target.Short, timeout);
    }
}
