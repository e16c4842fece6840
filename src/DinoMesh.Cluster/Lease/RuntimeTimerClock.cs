namespace DinoMesh.Cluster.Lease;

/// <summary>
/// The hold-back deadline on the runtime's <see cref="Timer"/>, where there is no timerfd. Setting a runtime timer wakes
/// its timer thread, so the timer is moved only to an earlier deadline; a later one is only noted, and when the timer
/// fires before it, it is set again for it instead of calling the driver (a wake-up, but no pass over the driver).
/// Timers count whole milliseconds and drop the fraction, so waits are rounded up (a deadline may pass up to a
/// millisecond late).
/// </summary>
internal sealed class RuntimeTimerClock : IHoldBackClock
{
    private readonly Lock _gate = new();
    private readonly Action _onDue;
    private readonly Timer _timer;
    // The deadline asked for, and the one the timer is set for (long.MaxValue: none).
    private long _due = long.MaxValue;
    private long _armed = long.MaxValue;
    private bool _stopped;

    public RuntimeTimerClock(Action onDue)
    {
        _onDue = onDue;
        _timer = new Timer(_ => Fired());
    }

    public long Now => System.Diagnostics.Stopwatch.GetTimestamp();

    public void Set(long due)
    {
        lock (_gate)
        {
            if (_stopped) return;
            _due = due;
            if (_armed <= due) return;
            ArmLocked(due);
        }
    }

    private void ArmLocked(long due)
    {
        _armed = due;
        var left = System.Diagnostics.Stopwatch.GetElapsedTime(Now, due);
        var wait = left > TimeSpan.Zero ? TimeSpan.FromMilliseconds(Math.Ceiling(left.TotalMilliseconds)) : TimeSpan.Zero;
        _timer.Change(wait, Timeout.InfiniteTimeSpan);
    }

    private void Fired()
    {
        lock (_gate)
        {
            _armed = long.MaxValue;
            if (_stopped || _due == long.MaxValue) return;
            if (_due > Now)
            {
                ArmLocked(_due);
                return;
            }
            _due = long.MaxValue;
        }
        _onDue();
    }

    public void Dispose()
    {
        lock (_gate) _stopped = true;
        _timer.Dispose();
    }
}
