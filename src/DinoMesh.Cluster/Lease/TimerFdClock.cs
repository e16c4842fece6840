using System.Diagnostics;
using System.Runtime.InteropServices;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// The hold-back deadline on a Linux timerfd read by a thread of its own (<c>dino-holdback</c>, started at the first
/// deadline, so only a node that has held something back has it). <c>timerfd_settime</c> reprograms the kernel's timer
/// without waking the reader, which is woken only when a deadline passes: under a steady writer the deadline moves
/// later with every round (one system call) and never passes, where the runtime's <see cref="Timer"/> could not be
/// moved later without still waking its timer thread and a pool worker at the old time (about once a millisecond; 10-13 %
/// of the holder's CPU samples, docs/benchmarks.md). The deadline is kept to the nanosecond (relative, on the monotonic
/// clock), not rounded up to whole milliseconds as a runtime timer's.
/// </summary>
internal sealed unsafe partial class TimerFdClock : IHoldBackClock
{
    private const string Library = "libc";
    private const int ClockMonotonic = 1;
    private const int TfdCloexec = 0x80000;
    private const int Eintr = 4;
    private const long NanosPerSecond = 1_000_000_000;

    private readonly int _fd;
    private readonly Action _onDue;
    private readonly Lock _gate = new();
    private Thread? _reader;
    private volatile bool _stopped;

    private TimerFdClock(int fd, Action onDue)
    {
        _fd = fd;
        _onDue = onDue;
    }

    /// <summary>Null where the kernel offers no timerfd (not Linux, or a sandbox that forbids it).</summary>
    public static TimerFdClock? TryCreate(Action onDue)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var fd = TimerFdCreate(ClockMonotonic, TfdCloexec);
            return fd < 0 ? null : new TimerFdClock(fd, onDue);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    public long Now => Stopwatch.GetTimestamp();

    public void Set(long due)
    {
        lock (_gate)
        {
            if (_stopped) return;
            if (_reader is null)
            {
                _reader = new Thread(ReadLoop) { IsBackground = true, Name = "dino-holdback" };
                _reader.Start();
            }
            // Relative to now; 0 would disarm the timer, so a deadline already past fires in a nanosecond.
            var left = Math.Max(1, (long)((due - Stopwatch.GetTimestamp()) * ((double)NanosPerSecond / Stopwatch.Frequency)));
            Arm(left);
        }
    }

    private void Arm(long nanos)
    {
        var spec = new ItimerSpec { Value = new Timespec { Seconds = nanos / NanosPerSecond, Nanos = nanos % NanosPerSecond } };
        // Fails only on a bad descriptor or value, neither of which this class makes.
        _ = TimerFdSetTime(_fd, 0, &spec, null);
    }

    private void ReadLoop()
    {
        while (!_stopped)
        {
            ulong expirations;
            var read = Read(_fd, &expirations, sizeof(ulong));
            if (read < 0)
            {
                if (Marshal.GetLastPInvokeError() == Eintr) continue;
                return;
            }
            if (_stopped) return;
            _onDue();
        }
    }

    public void Dispose()
    {
        Thread? reader;
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            reader = _reader;
            // Wakes the reader so it sees the stop.
            if (reader is not null) Arm(1);
        }
        // The descriptor stays open while the reader may still be in read(): closed only once it has gone (it runs no
        // handler after the stop, so this waits for a read to return, not for the driver).
        if (reader is null || reader.Join(TimeSpan.FromSeconds(5))) _ = Close(_fd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanos;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ItimerSpec
    {
        public Timespec Interval;
        public Timespec Value;
    }

    [LibraryImport(Library, EntryPoint = "timerfd_create", SetLastError = true)]
    private static partial int TimerFdCreate(int clockId, int flags);

    [LibraryImport(Library, EntryPoint = "timerfd_settime", SetLastError = true)]
    private static partial int TimerFdSetTime(int fd, int flags, ItimerSpec* value, ItimerSpec* old);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, ulong* buffer, nint count);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
