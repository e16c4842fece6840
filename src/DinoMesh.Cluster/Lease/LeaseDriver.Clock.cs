using System.Diagnostics;

namespace DinoMesh.Cluster.Lease;

// The machine's clock: ticks counted from the start on a monotonic clock, applied lazily. The loop sleeps until the
// first tick that can act (LeaseLog.TicksUntilDue) instead of waking every tick to count; every input first applies
// the ticks that passed, so the machine sees ticks and messages in the order they happened.
public sealed partial class LeaseDriver
{
    /// <summary>The loop wakes at least this often: the holder's policy runs once a second, commits are persisted.</summary>
    private const int LongestSleepTicks = 20;

    private readonly SemaphoreSlim _wake = new(0, 1);
    private long _clockStart;
    // Ticks applied to the machine, and the tick the loop sleeps until (the machine promised no action before it).
    private long _ticked;
    private long _wakeTick;

    private long NowTick => Stopwatch.GetElapsedTime(_clockStart).Ticks / _timing.Tick.Ticks;

    private void StartClockLocked()
    {
        _clockStart = Stopwatch.GetTimestamp();
        _ticked = 0;
        _wakeTick = 1;
    }

    /// <summary>
    /// Applies the ticks that passed since the last input, up to the tick the loop is due to wake at: those before it
    /// only count (the machine said so), and the one at it acts now rather than after this input, as a timer that
    /// fired first would have. Ticks past it are the loop's to apply (or drop, when it ran late). Caller holds the lock.
    /// </summary>
    private void AdvanceLocked()
    {
        var target = Math.Min(NowTick, _wakeTick);
        for (var round = 0; _ticked < target && round < LongestSleepTicks + 1; round++)
        {
            _machine.Tick();
            _ticked++;
        }
        _ticked = Math.Max(_ticked, target);
    }

    /// <summary>
    /// The loop's turn after a wake: apply the ticks due, drop any beyond them that a late wake missed (a periodic timer
    /// fires once after a stall, not once per missed tick), and choose the next wake. Caller holds the lock.
    /// </summary>
    private TimeSpan TickLocked()
    {
        AdvanceLocked();
        _ticked = Math.Max(_ticked, NowTick);
        ScheduleLocked();
        // A millisecond past the boundary, so a timer that fires a hair early does not wake the loop twice.
        var wakeAt = TimeSpan.FromTicks(_wakeTick * _timing.Tick.Ticks) - Stopwatch.GetElapsedTime(_clockStart) + TimeSpan.FromMilliseconds(1);
        return wakeAt < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wakeAt;
    }

    /// <summary>
    /// The next wake: the machine's first acting tick, every tick while a sync waiter may time out, and at most
    /// <see cref="LongestSleepTicks"/> ahead. Caller holds the lock.
    /// </summary>
    private void ScheduleLocked()
    {
        var ticks = _syncWaiters.Count > 0 ? 1 : Math.Min(_machine.TicksUntilDue, LongestSleepTicks);
        _wakeTick = _ticked + ticks;
    }

    /// <summary>After an input changed the machine: if something is now due before the loop's wake, wake it early.</summary>
    private void RescheduleLocked()
    {
        var before = _wakeTick;
        var due = _ticked + (_syncWaiters.Count > 0 ? 1 : Math.Min(_machine.TicksUntilDue, LongestSleepTicks));
        if (due >= before) return;
        _wakeTick = due;
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled.
            }
        }
    }
}
