using System.Diagnostics;

namespace DinoMesh.Cluster.Lease;

// The deadlines for what the holder holds back: commit notices it owes (LeaseLog.Notices.cs), which wait for the next
// append to that follower, and appends deferred to followers the majority does not need (LeaseLog.QuorumFirst.cs), which
// wait for more entries. Each goes out on its own within LeaseTiming.CommitNoticeDelay and LeaseTiming.DeferredAppendDelay
// when nothing sends it earlier. Every round checks the deadlines itself and sends what is due; the clock (one for both,
// IHoldBackClock, as the 50 ms lease ticks are far too coarse) is the fallback for when no round comes by. It is moved
// to the earliest deadline after every round that changed it, later as well as earlier, so under a steady writer, whose
// next append carries each held notice before its deadline, it does not pass at all (a runtime timer moved only
// earlier passed about once a millisecond, mostly with nothing due; docs/benchmarks.md). When nothing is held any more
// the clock is left as it is: it may pass once for nothing, and is not set again until something is held. How each
// held notice and each deferral went (the machine counts them) tells a CommitNoticePolicy for each whether holding
// back pays.
public sealed partial class LeaseDriver
{
    private readonly IHoldBackClock _holdBackClock;
    private CommitNoticePolicy? _noticePolicy;
    private CommitNoticePolicy? _deferralPolicy;
    // When notices became owed (a clock timestamp; 0 while none are).
    private long _noticesOwedSince;
    // When the deadline for deferred appends started (0 while nothing is deferred); the oldest deferred entry (the
    // machine's DeferredFrom) and since when it has been the oldest (0 while only notices wait).
    private long _deferredSince;
    private long _deferredFrom = long.MaxValue;
    private long _deferredFromSince;
    // The deadline the clock is set for (long.MaxValue: none, or it passed).
    private long _holdBackClockDue = long.MaxValue;
    // Passes of the clock (the handler ran) and those that found something due (diagnostics, tests).
    private long _holdBackPasses;
    private long _holdBackPassesDue;

    /// <summary>
    /// After a round: tells the policies how the held notices and the deferrals went since the last round (counted by the
    /// machine), starts the deadlines for what is held back since this round, and sends what is due. Returns true when
    /// it sent something (the machine has a round to drain). Otherwise (or when it may not send) sets the clock for the
    /// earliest deadline if that changed (a timerfd moved later wakes nobody). Caller holds the lock.
    /// </summary>
    private bool KeepHoldBackDeadlinesLocked(bool maySend = true)
    {
        var now = _holdBackClock.Now;
        _noticePolicy ??= new CommitNoticePolicy(Stopwatch.Frequency / 2);
        _deferralPolicy ??= new CommitNoticePolicy(Stopwatch.Frequency / 2);
        _machine.HoldCommitNotices = _noticePolicy.Judge(_machine.NoticesCarried, _machine.NoticesSentAlone, now);
        _machine.DeferAppends = _deferralPolicy.Judge(_machine.DeferralsMerged, _machine.DeferralsAlone, now);
        if (!_machine.CommitNoticesOwed) _noticesOwedSince = 0;
        else if (_noticesOwedSince == 0) _noticesOwedSince = now;
        if (!_machine.AppendsDeferred)
        {
            _deferredSince = 0;
            _deferredFrom = long.MaxValue;
            _deferredFromSince = 0;
        }
        else
        {
            // The oldest deferred entry went (at the count) and a younger one waits now: its wait starts now. A notice
            // that waited alone keeps its start when entries join it (they go early, with it).
            var from = _machine.DeferredFrom;
            if (_deferredSince == 0 || (from != _deferredFrom && _deferredFrom != long.MaxValue)) _deferredSince = now;
            if (from != _deferredFrom) _deferredFromSince = from == long.MaxValue ? 0 : now;
            _deferredFrom = from;
        }
        var due = long.MaxValue;
        if (_noticesOwedSince != 0) due = _noticesOwedSince + Ticks(_timing.CommitNoticeDelay);
        if (_deferredSince != 0) due = Math.Min(due, _deferredSince + Ticks(_timing.DeferredAppendDelay));
        if (due == long.MaxValue || _stopping.IsCancellationRequested) return false;
        // The deadlines are kept on a grid of whole milliseconds, as the runtime's timer kept them before (it rounded
        // each wait up; a held notice may wait up to a millisecond more than its delay): a writer whose next change
        // comes a little after the delay still carries the notice, and rounds that land in the same millisecond leave
        // the clock alone.
        var at = OnMillisecondGrid(due);
        if (at <= now && maySend) return SendDueLocked(now);
        if (at == _holdBackClockDue) return false;
        _holdBackClockDue = at;
        _holdBackClock.Set(at);
        return false;
    }

    /// <summary>The first whole millisecond of the clock at or after <paramref name="due"/>.</summary>
    internal static long OnMillisecondGrid(long due)
    {
        var millisecond = Stopwatch.Frequency / 1000;
        return (due + millisecond - 1) / millisecond * millisecond;
    }

    /// <summary>Sends the held notices and deferred appends whose deadline has passed. Caller holds the lock.</summary>
    private bool SendDueLocked(long now)
    {
        var sent = false;
        if (_noticesOwedSince != 0 && now - _noticesOwedSince >= Ticks(_timing.CommitNoticeDelay))
        {
            _machine.SendCommitNotices();
            _noticesOwedSince = 0;
            sent = true;
        }
        if (_deferredSince != 0 && now - _deferredSince >= Ticks(_timing.DeferredAppendDelay))
        {
            // Only an entry that has waited the whole deadline can show a quick voter to be late.
            var overdue = _deferredFromSince != 0 && now - _deferredFromSince >= Ticks(_timing.DeferredAppendDelay) ? _deferredFrom : long.MaxValue;
            _machine.SendDeferredAppends(overdue);
            _deferredSince = 0;
            _deferredFrom = long.MaxValue;
            _deferredFromSince = 0;
            sent = true;
        }
        return sent;
    }

    /// <summary>The hold-back policies' decisions and the counts they judge by, for status. Caller holds the lock.</summary>
    private LeaseHoldBack HoldBackLocked() => new(
        _machine.HoldCommitNotices, _noticePolicy?.Flips ?? 0, _machine.NoticesCarried, _machine.NoticesSentAlone,
        _machine.DeferAppends, _deferralPolicy?.Flips ?? 0, _machine.DeferralsMerged, _machine.DeferralsAlone,
        _machine.QuickVotersDemoted, _machine.NoticesAloneAwaited, _machine.NoticesAloneDeferred);

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>The clock's passes: all of them, and those that found something due (diagnostics, tests).</summary>
    internal (long Passes, long Due) HoldBackClockPasses
    {
        get
        {
            lock (_gate) return (_holdBackPasses, _holdBackPassesDue);
        }
    }

    /// <summary>
    /// The clock passed its deadline with no round since to send what was due: sends it, or, when a round sent it
    /// already or nothing is held any more, does nothing more (the rounds set the clock again when something is held).
    /// </summary>
    private void OnHoldBackDue()
    {
        lock (_gate)
        {
            _holdBackClockDue = long.MaxValue;
            if (_failure is not null || _stopping.IsCancellationRequested) return;
            _holdBackPasses++;
            var now = _holdBackClock.Now;
            var noticeDue = _noticesOwedSince != 0 && now - _noticesOwedSince >= Ticks(_timing.CommitNoticeDelay);
            var deferredDue = _deferredSince != 0 && now - _deferredSince >= Ticks(_timing.DeferredAppendDelay);
            if (!noticeDue && !deferredDue)
            {
                // A round carried what the deadline was for. Whatever is held now has a later deadline: the clock is
                // set for it, and the machine is not disturbed.
                if (!KeepHoldBackDeadlinesLocked()) return;
            }
            else
            {
                _holdBackPassesDue++;
                try
                {
                    AdvanceLocked();
                    SendDueLocked(now);
                }
                catch (Exception e)
                {
                    FailLocked(e);
                }
            }
            // Sends what the machine made, and sets the clock again for what is still held back (younger).
            ProcessLocked();
        }
        AfterProcess();
    }
}
