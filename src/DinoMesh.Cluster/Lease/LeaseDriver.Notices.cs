using System.Diagnostics;

namespace DinoMesh.Cluster.Lease;

// The deadline for commit notices the holder owes (LeaseLog.Notices.cs): the machine holds a notice back for the next
// append to that follower; this clock makes sure it goes out on its own within LeaseTiming.CommitNoticeDelay when no
// append does. The lease ticks (50 ms) are far too coarse for that, so it has its own timer. How each held notice went
// (carried by an append, or sent alone; the machine counts them) tells CommitNoticePolicy whether holding them pays.
public sealed partial class LeaseDriver
{
    private Timer? _noticeTimer;
    private CommitNoticePolicy? _noticePolicy;
    // When notices became owed (a Stopwatch timestamp; 0 while none are), and whether the timer is set.
    private long _noticesOwedSince;
    private bool _noticeTimerSet;

    /// <summary>
    /// After a round: tells the policy how the held notices went since the last round (each one carried or sent alone,
    /// counted by the machine), then starts the deadline for notices owed since this round. The timer is set once and
    /// not moved while it runs (setting a timer wakes the runtime's timer thread, which on every commit would cost more
    /// than it saves). When it fires it sends what is owed by then, or sets itself again for notices that became owed
    /// later. Caller holds the lock.
    /// </summary>
    private void ArmNoticeDeadlineLocked()
    {
        _noticePolicy ??= new CommitNoticePolicy(Stopwatch.Frequency / 2);
        _machine.HoldCommitNotices = _noticePolicy.Judge(_machine.NoticesCarried, _machine.NoticesSentAlone, Stopwatch.GetTimestamp());
        if (!_machine.CommitNoticesOwed)
        {
            _noticesOwedSince = 0;
            return;
        }
        if (_noticesOwedSince == 0) _noticesOwedSince = Stopwatch.GetTimestamp();
        if (_noticeTimerSet || _stopping.IsCancellationRequested) return;
        _noticeTimerSet = true;
        var left = _timing.CommitNoticeDelay - Stopwatch.GetElapsedTime(_noticesOwedSince);
        _noticeTimer ??= new Timer(_ => OnNoticeDeadline());
        // Timers count whole milliseconds and drop the fraction: a remainder of 0.7 ms would fire at once, and again,
        // until the deadline passed. Rounded up instead (a notice may wait up to a millisecond more).
        var due = left > TimeSpan.Zero ? TimeSpan.FromMilliseconds(Math.Ceiling(left.TotalMilliseconds)) : TimeSpan.Zero;
        _noticeTimer.Change(due, Timeout.InfiniteTimeSpan);
    }

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
            }
            catch (Exception e)
            {
                FailLocked(e);
            }
            // Sends what the machine made, and sets the timer again for notices still owed (younger ones).
            ProcessLocked();
        }
        AfterProcess();
    }
}
