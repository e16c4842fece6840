using System.Collections.Concurrent;

namespace DinoMesh.Load.Platform;

/// <summary>
/// Starts child processes from one dedicated thread that lives as long as the runner. Linux delivers a child's
/// parent-death signal (<c>PR_SET_PDEATHSIG</c>, set by <c>setpriv --pdeathsig</c>) when the <em>thread</em> that
/// forked it exits, and .NET forks on the calling thread: started from a pool thread that later retires, a node
/// would be killed mid-run. From this thread, the signal fires only when the runner process itself dies.
/// </summary>
public sealed class ProcessLauncher : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;

    public ProcessLauncher()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "dino-load-launcher" };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="start"/> (which starts a process) on the launcher thread and returns its result.</summary>
    public Task<T> RunAsync<T>(Func<T> start)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(start());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    private void Loop()
    {
        // The thread must not end before the process: after CompleteAdding it parks instead of returning.
        foreach (var action in _work.GetConsumingEnumerable()) action();
        Thread.Sleep(Timeout.Infinite);
    }

    public void Dispose() => _work.CompleteAdding();
}
