using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// A follower's after-work of the lease calls it answers (<c>LeaseDriver.AfterProcess</c>: apply what is committed,
/// announce it, send what the round queued for other peers) on a thread of its own, <c>dino-afterwork</c>, started at
/// the first signal (a node that never answers a call as a follower has none). The reader that answered a call only
/// signals and goes back to reading; the apply runs where the scheduler finds a CPU, not behind the reader on the CPU
/// that the holder's answer thread is woken on (docs/benchmarks.md).
/// <para>Signals coalesce: the work brings everything up to date (apply up to the driver's target, which only grows;
/// announce what is unannounced; send what is queued), so one run after the last signal does all that any number of
/// runs would. A signal that comes while a run is under way makes one more run after it; none is lost. Order and
/// exactly-once are the replica's (<c>MetadataReplica.ApplyCommitted</c> applies under its lock from its own version
/// on, whichever thread calls it), not this thread's. Nobody waits for a run synchronously: a proposer or a reader on
/// this node waits for the replica's announcement, which the run makes.</para>
/// </summary>
internal sealed unsafe partial class AfterWork : IDisposable
{
    private readonly Action _work;
    private readonly ILogger _logger;
    private readonly Lock _startGate = new();
    // No spinning: the waiter is woken by a futex, and a spin would take the CPU the signaller's peer wants. Never
    // disposed: it holds no kernel handle (nobody asks for its WaitHandle), and a late signal may still set it.
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    // 1 from a signal until the thread takes it, just before a run: a signal after that makes another run.
    private int _pending;
    private Thread? _thread;
    private volatile bool _stopped;

    /// <param name="work">The after-work; it must be safe to run any number of times, and from other threads too.</param>
    public AfterWork(Action work, ILogger logger)
    {
        _work = work;
        _logger = logger;
    }

    /// <summary>Asks for a run (another one if one is under way); never blocks, never runs the work itself.</summary>
    public void Signal()
    {
        if (_stopped || Interlocked.Exchange(ref _pending, 1) != 0) return;
        if (Volatile.Read(ref _thread) is null) Start();
        _wake.Set();
    }

    private void Start()
    {
        lock (_startGate)
        {
            if (_thread is not null || _stopped) return;
            // The runtime's default stack: a run may go on into a committed caller's continuation (the rest of its FUSE
            // request), as deep as on a pool thread.
            var thread = new Thread(Loop) { IsBackground = true, Name = "dino-afterwork" };
            thread.Start();
            Volatile.Write(ref _thread, thread);
        }
    }

    private void Loop()
    {
        // SCHED_IDLE: the apply runs only when no other thread wants this CPU, so it never goes before the holder's
        // answer thread that the same call woke on this CPU (docs/benchmarks.md); where the kernel refuses, as before.
        if (OperatingSystem.IsLinux())
        {
            try
            {
                var priority = 0;
                _ = SchedSetScheduler(0, SchedIdle, &priority);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // Not glibc: the thread keeps the normal policy.
            }
        }
        while (true)
        {
            _wake.Wait();
            // Reset before the pending flag is taken: a signal after the take sets the event again, so it is not lost.
            _wake.Reset();
            if (_stopped) return;
            if (Interlocked.Exchange(ref _pending, 0) == 0) continue;
            try
            {
                _work();
            }
            catch (Exception e)
            {
                // As on the reader before: the caller has its answer; a listener's failure is logged, the thread goes on.
                _logger.LogError(e, "lease: after-work failed");
            }
        }
    }

    private const int SchedIdle = 5;

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetScheduler(int pid, int policy, int* param);

    /// <summary>Stops the thread (bounded wait); what is still pending is dropped, as the driver is stopping.</summary>
    public void Dispose()
    {
        Thread? thread;
        lock (_startGate)
        {
            if (_stopped) return;
            _stopped = true;
            thread = _thread;
        }
        _wake.Set();
        // Not when the driver is disposed from a run (a listener that stops the node): that thread ends after it.
        if (thread is not null && thread != Thread.CurrentThread) thread.Join(TimeSpan.FromSeconds(5));
    }
}
