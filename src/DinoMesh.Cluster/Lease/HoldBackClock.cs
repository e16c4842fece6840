using System.Diagnostics;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// The holder's one deadline for what it holds back (held commit notices, deferred appends; LeaseDriver.Notices.cs): the
/// driver's I/O, as its network is, so the lease machine stays pure and a test can run the driver on a clock of its own.
/// The driver moves the deadline on nearly every round while a writer streams, mostly later (a held notice rode on an
/// append, a younger one waits now), so moving it must not wake anyone: only a deadline that passes does.
/// </summary>
internal interface IHoldBackClock : IDisposable
{
    /// <summary>Now, in <see cref="Stopwatch"/> ticks.</summary>
    long Now { get; }

    /// <summary>
    /// Calls the driver's handler once, at or after <paramref name="due"/> (a <see cref="Now"/> timestamp), on a thread
    /// that holds no lock; a later call replaces the deadline, earlier or later. The handler is not called again until
    /// the next <see cref="Set"/>. Called under the driver's lock.
    /// </summary>
    void Set(long due);
}

/// <summary>Makes the clock for a driver: the handler is what it calls when the deadline passes.</summary>
internal delegate IHoldBackClock HoldBackClockFactory(Action onDue);

internal static class HoldBackClocks
{
    /// <summary>A timerfd where the kernel has one (Linux), else the runtime's timer re-armed lazily.</summary>
    public static IHoldBackClock Create(Action onDue) => (IHoldBackClock?)TimerFdClock.TryCreate(onDue) ?? new RuntimeTimerClock(onDue);
}
