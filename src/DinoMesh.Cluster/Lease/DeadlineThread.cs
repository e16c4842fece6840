using System.Diagnostics;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// One deadline, kept by a thread of its own that sleeps until it and then runs the action itself. The lease holder's
/// deadline for held commit notices and deferred appends (LeaseDriver.Notices.cs) passes about once a millisecond under
/// a steady writer; on a runtime <see cref="Timer"/> each pass woke the timer thread, which handed the callback to a pool
/// worker it woke in turn: two context switches where one does. A deadline is only ever moved earlier while set (a
/// later one waits for the pass, as with the timer), so a busy holder rarely wakes the thread early.
/// </summary>
internal sealed class DeadlineThread : IDisposable
{
    private readonly object _gate = new();
    private readonly Action _passed;
    private readonly string _name;
    private Thread? _thread;
    private long _due = long.MaxValue;
    private bool _sleeping;
    private bool _disposed;

    /// <param name="passed">Run on the thread (no lock held) each time a deadline passes; it may set the next one.</param>
    public DeadlineThread(string name, Action passed)
    {
        _name = name;
        _passed = passed;
    }

    /// <summary>
    /// Runs the action at <paramref name="due"/> (a <see cref="Stopwatch"/> timestamp), unless an earlier deadline is
    /// set already. The thread starts at the first deadline.
    /// </summary>
    public void Set(long due)
    {
        lock (_gate)
        {
            if (_disposed || due >= _due) return;
            _due = due;
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = _name };
                _thread.Start();
            }
            else if (_sleeping)
            {
                Monitor.Pulse(_gate);
            }
        }
    }

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                while (true)
                {
                    if (_disposed) return;
                    var now = Stopwatch.GetTimestamp();
                    if (_due <= now) break;
                    _sleeping = true;
                    if (_due == long.MaxValue) Monitor.Wait(_gate);
                    // Waits count whole milliseconds; rounded up, so the thread does not wake just before the deadline
                    // and go back to sleep.
                    else Monitor.Wait(_gate, (int)Math.Min(int.MaxValue, Math.Ceiling(Stopwatch.GetElapsedTime(now, _due).TotalMilliseconds)));
                    _sleeping = false;
                }
                _due = long.MaxValue;
            }
            _passed();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.Pulse(_gate);
        }
    }
}
