using System.Collections.Concurrent;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// The volume's committer in a cluster: a mutation goes to the lease holder (this node or another), which appends it
/// to the one ordered log; the call returns when this node has applied it, so the caller reads its own write. A lost
/// holder, a lost message or a change of holder is retried under the same op id (never applied twice) until the
/// commit timeout, after which the caller gets ETIMEDOUT — on a minority side of a partition, that is the answer.
/// </summary>
public sealed class ClusterCommitter : IMetadataCommitter
{
    private readonly LeaseDriver _lease;
    private readonly MetadataReplica _replica;
    private readonly ILeaseNetwork _network;
    private readonly ILogger _logger;
    // Deadlines are measured on its monotonic timestamps, never its wall clock: a clock stepped forward (NTP, an
    // administrator) must not fail every commit in flight, nor one stepped back stretch them.
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<WaiterKey, TaskCompletionSource<ApplyResult>> _waiting = new();
    private readonly ReadIndexRounds _readIndex;
    // Callers whose changes were applied, answered once the round's events are all raised (AnswerApplied).
    private readonly Lock _answerGate = new();
    private readonly List<(TaskCompletionSource<ApplyResult> Waiter, ApplyResult Result)> _answers = [];
    private readonly Lock _appliedGate = new();
    private readonly List<(long Version, TaskCompletionSource Done)> _appliedWaiters = [];
    // After a read-index question went unanswered, readers use the local replica without asking until then: a node
    // cut off from the holder answers from what it has (reads keep working on a minority side) without a stall each.
    private long _askAgainAfterTicks;

    /// <summary>How long a reader waits for the holder's answer, and then for this node to apply that far.</summary>
    public static readonly TimeSpan ReadBarrierTimeout = TimeSpan.FromMilliseconds(500);

    public ClusterCommitter(LeaseDriver lease, MetadataReplica replica, ILeaseNetwork network, ILogger logger, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _lease = lease;
        _replica = replica;
        _network = network;
        _logger = logger;
        replica.Applied += OnApplied;
        lease.AppliedRound += AnswerApplied;
        // A replaced state is a change this node did not make: its caches go as for any remote change.
        replica.StateReplaced += result => AppliedRemotely?.Invoke(result);
        // After every listener of the version: a reader let go here finds the change's cache invalidation queued.
        replica.Announced += ReleaseReaders;
        _readIndex = new ReadIndexRounds(AskReadIndexAsync);
    }

    public FileSystemState Current => _replica.Current;

    public PeerId Self => _lease.Self;

    public event Action<ApplyResult>? AppliedRemotely;

    private void OnApplied(Mutation mutation, ApplyResult result)
    {
        if (mutation.Proposer == Self)
        {
            if (mutation.Op is { } op && _waiting.TryRemove(WaiterKey.Of(op), out var waiter))
            {
                lock (_answerGate) _answers.Add((waiter, result));
            }
        }
        else
        {
            AppliedRemotely?.Invoke(result);
        }
    }

    /// <summary>
    /// Lets the callers whose changes the round applied go on, on this thread: their continuations (the rest of the
    /// FUSE request, its reply) run here instead of after a hop to the thread pool, which cost about 50 µs of every
    /// commit on a busy 2-core machine. Run after the replica's events (<see cref="LeaseDriver.AppliedRound"/>), so a
    /// caller that proposes again from here cannot apply newer entries between the events of older ones.
    /// </summary>
    private void AnswerApplied()
    {
        (TaskCompletionSource<ApplyResult> Waiter, ApplyResult Result)[] answers;
        lock (_answerGate)
        {
            if (_answers.Count == 0) return;
            answers = [.. _answers];
            _answers.Clear();
        }
        foreach (var (waiter, result) in answers) waiter.TrySetResult(result);
    }

    public async ValueTask<ApplyResult> CommitAsync(Mutation mutation, CancellationToken cancellationToken)
    {
        var timing = _lease.Timing;
        var started = _time.GetTimestamp();
        TimeSpan Left() => timing.CommitTimeout - _time.GetElapsedTime(started);
        var encoded = MutationCodec.Encode(mutation);
        if (mutation.Op is not { } op) throw new ArgumentException("a mutation from the volume carries an op id", nameof(mutation));
        // Completed by AnswerApplied, outside every lock, so its continuation may run inline there.
        var waiter = new TaskCompletionSource<ApplyResult>();
        _waiting[WaiterKey.Of(op)] = waiter;
        try
        {
            // How long to wait for the entry to show up here after the holder took it, before asking again.
            var patience = timing.Tick * timing.Machine.ElectionTicks * 2;
            // Once a proposal has left, the change may be committed whatever happens here, so a caller that gives up
            // (a signal interrupting the syscall) would be told "nothing happened" about a change that did: an
            // O_EXCL create answered EINTR whose file then exists. From there only the commit deadline ends the wait.
            var proposed = false;
            ProposeOutcome? lastOutcome = null;
            var attempts = 0;
            for (var attempt = 0; Left() > TimeSpan.Zero; attempt++)
            {
                var ct = proposed ? CancellationToken.None : cancellationToken;
                ct.ThrowIfCancellationRequested();
                attempts = attempt + 1;
                var holder = _lease.Glance.Holder;
                if (holder.IsEmpty)
                {
                    await WaitAsync(waiter.Task, timing.Tick * 2, ct);
                    if (waiter.Task.IsCompleted) return await Committed(waiter.Task);
                    continue;
                }
                proposed = true;
                var response = holder == Self
                    ? _lease.Propose(mutation, encoded)
                    : await _network.ProposeAsync(holder, encoded, Min(patience, Left()), CancellationToken.None);
                lastOutcome = response?.Outcome;
                switch (response?.Outcome)
                {
                    case ProposeOutcome.Refused:
                        _lease.CountCommitEnd(CommitEnd.Refused);
                        return ApplyResult.Fail((FsError)response.Errno, Current);
                    case ProposeOutcome.Appended or ProposeOutcome.Duplicate:
                        await WaitAsync(waiter.Task, Min(patience, Left()), CancellationToken.None);
                        if (waiter.Task.IsCompleted) return await Committed(waiter.Task);
                        break;
                    default:
                        // Not the holder (any more), or unreachable: give the lease a moment to settle.
                        await WaitAsync(waiter.Task, timing.Tick * 2, CancellationToken.None);
                        if (waiter.Task.IsCompleted) return await Committed(waiter.Task);
                        break;
                }
                if (attempt > 0 && attempt % 10 == 0)
                {
                    _logger.LogWarning("metadata: {Kind} still waiting for a holder and a majority (attempt {Attempt})", mutation.KindName, attempt);
                }
            }
            // Applied here means committed: the caller is owed its result, not ETIMEDOUT (a create answered "timed out"
            // whose file exists). Its answer comes when the thread that announces the round gets to it, after the
            // listeners and answers of the changes before it; a commit that waited out its time elsewhere (a loaded
            // machine, a lock held over a slow disk) may find its change applied and the answer on its way.
            if (proposed && Current.IsDuplicate(mutation))
            {
                await WaitAsync(waiter.Task, timing.CommitTimeout, CancellationToken.None);
                if (waiter.Task.IsCompleted) return await Committed(waiter.Task);
            }
            LogTimeout(mutation, op, waiter, timing.CommitTimeout, attempts, lastOutcome);
            _lease.CountCommitEnd(lastOutcome is ProposeOutcome.Appended or ProposeOutcome.Duplicate ? CommitEnd.TimedOut : CommitEnd.NoQuorum);
            return ApplyResult.Fail(FsError.TimedOut, Current);
        }
        finally
        {
            _waiting.TryRemove(WaiterKey.Of(op), out _);
        }
    }

    /// <summary>
    /// Close-to-open: returns once this node has applied every change that was acknowledged (anywhere) before the
    /// call, so an open or a miss that follows sees it. Costs one question to the holder (shared by concurrent
    /// readers) on a node that does not hold the lease. Without an answer in time (no holder, or cut off from it), the
    /// reader goes on with this node's state: on a minority side reads keep working, possibly stale.
    /// </summary>
    public async ValueTask ReadBarrierAsync(CancellationToken cancellationToken)
    {
        var status = _lease.Glance;
        long target;
        if (status.Holder == Self)
        {
            target = status.Commit;
        }
        else
        {
            if (status.Holder.IsEmpty || status.NoQuorum || Environment.TickCount64 < Interlocked.Read(ref _askAgainAfterTicks)) return;
            if (await _readIndex.JoinAsync().WaitAsync(cancellationToken) is not { } commit)
            {
                Interlocked.Exchange(ref _askAgainAfterTicks, Environment.TickCount64 + (long)_lease.Timing.Tick.TotalMilliseconds * _lease.Timing.Machine.ElectionTicks);
                return;
            }
            target = commit;
        }
        // Announced, not merely applied: the state is published before its listeners run, and it is they that make an
        // open after this see the change (the file noted as changed elsewhere, the kernel's cache invalidation queued).
        if (target <= _replica.AnnouncedVersion) return;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_appliedGate) _appliedWaiters.Add((target, done));
        ReleaseReaders(_replica.AnnouncedVersion);
        try
        {
            await done.Task.WaitAsync(ReadBarrierTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            _logger.LogDebug("metadata: version {Version} not applied within {Timeout}; reading at {Applied}", target, ReadBarrierTimeout, Current.Version);
            lock (_appliedGate) _appliedWaiters.Remove((target, done));
        }
    }

    /// <summary>
    /// The read barrier with no fallback: asks the holder (again and again, within the commit timeout; also during the
    /// pause <see cref="ReadBarrierAsync"/> takes after an unanswered question) and waits until this node has announced
    /// its commit version. False when that did not happen in time. load/nemesis.py found appends taking turns whose
    /// lines landed over each other: a node cut off from the holder opened with its stale state, wrote at its stale end,
    /// and its close committed once the cut healed.
    /// </summary>
    public async ValueTask<bool> StrictReadBarrierAsync(CancellationToken cancellationToken)
    {
        var deadline = Environment.TickCount64 + (long)_lease.Timing.CommitTimeout.TotalMilliseconds;
        while (true)
        {
            var status = _lease.Glance;
            long? target = status.Holder == Self ? status.Commit
                : status.Holder.IsEmpty ? null
                : await _readIndex.JoinAsync().WaitAsync(cancellationToken);
            if (target is { } version)
            {
                if (version <= _replica.AnnouncedVersion) return true;
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (_appliedGate) _appliedWaiters.Add((version, done));
                ReleaseReaders(_replica.AnnouncedVersion);
                var left = deadline - Environment.TickCount64;
                try
                {
                    if (left > 0) await done.Task.WaitAsync(TimeSpan.FromMilliseconds(left), cancellationToken);
                }
                catch (TimeoutException)
                {
                }
                lock (_appliedGate) _appliedWaiters.Remove((version, done));
                return done.Task.IsCompleted;
            }
            if (Environment.TickCount64 >= deadline) return false;
            await Task.Delay(100, cancellationToken);
        }
    }

    private async Task<long?> AskReadIndexAsync()
    {
        var holder = _lease.Glance.Holder;
        if (holder.IsEmpty) return null;
        if (holder == Self) return _lease.ReadIndexOnHolder();
        var answer = await _network.ReadIndexAsync(holder, ReadBarrierTimeout, CancellationToken.None);
        return answer is { Commit: >= 0 } ? answer.Commit : null;
    }

    private void ReleaseReaders(long applied)
    {
        lock (_appliedGate)
        {
            for (var i = _appliedWaiters.Count - 1; i >= 0; i--)
            {
                if (_appliedWaiters[i].Version > applied) continue;
                _appliedWaiters[i].Done.TrySetResult();
                _appliedWaiters.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Says what a commit that ran out of time waited for: no holder at all, or a holder that took it (appended, or
    /// already had it) whose answer never came here. Only the first is "no holder reachable".
    /// </summary>
    private void LogTimeout(Mutation mutation, OpId op, TaskCompletionSource<ApplyResult> waiter, TimeSpan timeout, int attempts, ProposeOutcome? lastOutcome)
    {
        // Where the answer is: still expected (never applied here), or applied and queued for a round that has not
        // answered it yet.
        var expected = _waiting.ContainsKey(WaiterKey.Of(op));
        bool queued;
        lock (_answerGate) queued = _answers.Exists(a => a.Waiter == waiter);
        var answer = waiter.Task.IsCompleted ? "answered" : expected ? "expected" : queued ? "queued" : "lost";
        var glance = _lease.Glance;
        var applied = Current.IsDuplicate(mutation);
        if (lastOutcome is ProposeOutcome.Appended or ProposeOutcome.Duplicate)
        {
            _logger.LogWarning("metadata: {Kind} timed out after {Timeout}: the holder {Holder} took it ({Outcome}, {Attempts} attempts) but its answer did not come (applied here {Applied}, answer {Answer}, version {Version}, commit {Commit})",
                mutation.KindName, timeout, glance.Holder.IsEmpty ? "-" : glance.Holder.Short, lastOutcome, attempts, applied, answer, Current.Version, glance.Commit);
            return;
        }
        _logger.LogWarning("metadata: {Kind} timed out after {Timeout}: no holder reachable with a majority ({Attempts} attempts, last answer {Outcome}, holder {Holder})",
            mutation.KindName, timeout, attempts, lastOutcome?.ToString() ?? "none", glance.Holder.IsEmpty ? "none" : glance.Holder.Short);
    }

    /// <summary>The result of a change this node applied, counted as committed.</summary>
    private Task<ApplyResult> Committed(Task<ApplyResult> applied)
    {
        _lease.CountCommitEnd(CommitEnd.Committed);
        return applied;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? (a < TimeSpan.Zero ? TimeSpan.Zero : a) : (b < TimeSpan.Zero ? TimeSpan.Zero : b);

    private static async Task WaitAsync(Task task, TimeSpan timeout, CancellationToken ct)
    {
        if (task.IsCompleted || timeout <= TimeSpan.Zero) return;
        try
        {
            await task.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            // The caller decides what a late answer means.
        }
    }

    /// <summary>
    /// fsync: this node's chunks and log are synced, then the holder makes everything committed so far durable on a
    /// majority of voters.
    /// </summary>
    public async ValueTask<FsError> SyncAsync(CancellationToken cancellationToken)
    {
        var local = _replica.Sync();
        if (local != FsError.None) return local;
        var timing = _lease.Timing;
        var started = _time.GetTimestamp();
        TimeSpan Left() => timing.CommitTimeout - _time.GetElapsedTime(started);
        var version = Math.Max(_lease.Glance.Commit, Current.Version);
        while (Left() > TimeSpan.Zero)
        {
            var holder = _lease.Glance.Holder;
            if (holder == Self && _lease.SyncOnHolder(version) is { } sync) return await sync.WaitAsync(cancellationToken);
            if (!holder.IsEmpty && holder != Self)
            {
                var response = await _network.SyncAsync(holder, version, Left(), cancellationToken);
                if (response is { Errno: 0 }) return FsError.None;
                if (response is { Errno: var errno } && errno != (int)FsError.Stale) return (FsError)errno;
            }
            await Task.Delay(timing.Tick * 2, cancellationToken);
        }
        return FsError.TimedOut;
    }
}
