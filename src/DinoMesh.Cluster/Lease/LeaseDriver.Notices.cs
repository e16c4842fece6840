using System.Diagnostics;

namespace DinoMesh.Cluster.Lease;

// The deadlines for what the holder holds back: commit notices it owes (LeaseLog.Notices.cs), which wait for the next
// append to that follower, and appends deferred to followers the majority does not need (LeaseLog.QuorumFirst.cs), which
// wait for more entries. This clock makes sure each goes out on its own within LeaseTiming.CommitNoticeDelay and
// LeaseTiming.DeferredAppendDelay when nothing sends it earlier. The lease ticks (50 ms) are far too coarse for that, so
// it has its own timer, one for both. How each held notice and each deferral went (the machine counts them) tells a
// CommitNoticePolicy for each whether holding back pays.
public sealed partial class LeaseDriver
{
    private Timer? _noticeTimer;
    private CommitNoticePolicy? _noticePolicy;
    private CommitNoticePolicy? _deferralPolicy;
    // When notices became owed (a Stopwatch timestamp; 0 while none are).
    private long _noticesOwedSince;
    // When the deadline for deferred appends started (0 while nothing is deferred); the oldest deferred entry (the
    // machine's DeferredFrom) and since when it has been the oldest (0 while only notices wait).
    private long _deferredSince;
    private long _deferredFrom = long.MaxValue;
    private long _deferredFromSince;
    // Whether the timer is set, and for when (a Stopwatch timestamp).
    private bool _noticeTimerSet;
    private long _noticeTimerDue;

    /// <summary>
    /// After a round: tells the policies how the held notices and the deferrals went since the last round (counted by the
    /// machine), then starts the deadlines for what is held back since this round. The timer is set once and moved only
    /// to an earlier deadline (setting a timer wakes the runtime's timer thread, which on every commit would cost more
    /// than it saves). When it fires it sends what is due by then, or sets itself again for what became due later.
    /// Caller holds the lock.
    /// </summary>
    private void ArmNoticeDeadlineLocked()
    {
        var now = Stopwatch.GetTimestamp();
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
        if (due == long.MaxValue || _stopping.IsCancellationRequested) return;
        if (_noticeTimerSet && _noticeTimerDue <= due) return;
        _noticeTimerSet = true;
        _noticeTimerDue = due;
        var left = Stopwatch.GetElapsedTime(now, due);
        _noticeTimer ??= new Timer(_ => OnNoticeDeadline());
        // Timers count whole milliseconds and drop the fraction: a remainder of 0.7 ms would fire at once, and again,
        // until the deadline passed. Rounded up instead (a notice may wait up to a millisecond more).
        var wait = left > TimeSpan.Zero ? TimeSpan.FromMilliseconds(Math.Ceiling(left.TotalMilliseconds)) : TimeSpan.Zero;
        _noticeTimer.Change(wait, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The hold-back policies' decisions and the counts they judge by, for status. Caller holds the lock.</summary>
    private LeaseHoldBack HoldBackLocked() => new(
        _machine.HoldCommitNotices, _noticePolicy?.Flips ?? 0, _machine.NoticesCarried, _machine.NoticesSentAlone,
        _machine.DeferAppends, _deferralPolicy?.Flips ?? 0, _machine.DeferralsMerged, _machine.DeferralsAlone,
        _machine.QuickVotersDemoted);

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private void OnNoticeDeadline()
    {
        lock (_gate)
        {
            _noticeTimerSet = false;
            if (_failure is not null || _stopping.IsCancellationRequested) return;
            try
            {
                AdvanceLocked();
                if (_noticesOwedSince != 0 && Stopwatch.GetElapsedTime(_noticesOwedSince) >= _timing.CommitNoticeDelay)
                {
                    _machine.SendCommitNotices();
                    _noticesOwedSince = 0;
                }
                if (_deferredSince != 0 && Stopwatch.GetElapsedTime(_deferredSince) >= _timing.DeferredAppendDelay)
                {
                    // Only an entry that has waited the whole deadline can show a quick voter to be late.
                    var overdue = _deferredFromSince != 0 && Stopwatch.GetElapsedTime(_deferredFromSince) >= _timing.DeferredAppendDelay ? _deferredFrom : long.MaxValue;
                    _machine.SendDeferredAppends(overdue);
                    _deferredSince = 0;
                    _deferredFrom = long.MaxValue;
                    _deferredFromSince = 0;
                }
            }
            catch (Exception e)
            {
                FailLocked(e);
            }
            // Sends what the machine made, and sets the timer again for what is still held back (younger).
            ProcessLocked();
        }
        AfterProcess();
    }
}
