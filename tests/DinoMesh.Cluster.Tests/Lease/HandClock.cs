using System.Diagnostics;
using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// A hold-back clock a test moves by hand: it passes (calls the driver's handler, on the test's thread) only when
/// <see cref="Advance"/> carries it past the deadline last set, as a timerfd would; counts the sets and passes.
/// </summary>
internal sealed class HandClock(Action onDue) : IHoldBackClock
{
    private readonly Lock _gate = new();
    private long _now = Stopwatch.Frequency;
    private long _due = long.MaxValue;

    public long Now
    {
        get
        {
            lock (_gate) return _now;
        }
    }

    /// <summary>The deadline the clock is set for (long.MaxValue: none, or it passed).</summary>
    public long Due
    {
        get
        {
            lock (_gate) return _due;
        }
    }

    public int Sets { get; private set; }

    public int Passes { get; private set; }

    public void Set(long due)
    {
        lock (_gate)
        {
            _due = due;
            Sets++;
        }
    }

    /// <summary>Moves the clock on; a deadline passed on the way calls the handler (once) before this returns.</summary>
    public void Advance(TimeSpan by) => AdvanceTo(Now + Ticks(by));

    /// <summary>Moves the clock to <paramref name="at"/>, as <see cref="Advance"/>.</summary>
    public void AdvanceTo(long at)
    {
        lock (_gate)
        {
            _now = Math.Max(_now, at);
            if (_due > _now) return;
            _due = long.MaxValue;
            Passes++;
        }
        onDue();
    }

    public static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    public void Dispose()
    {
    }
}
