namespace DinoMesh.Transport.Lean;

/// <summary>
/// Threads that each read one lean connection with blocking receives (<see cref="DedicatedSocketStream"/>), server and
/// client side alike, and how many of them a transport may have. A cluster's lease traffic (appends, acknowledgements,
/// proposals, commit notices) and SWIM go over one lean connection per peer and direction, so a node of a small cluster
/// needs a handful; past the budget a lean connection is read as before, through the runtime's epoll thread and the pool.
/// <para>Only inline work runs on such a thread: inline handlers (the lease's, a few microseconds each) and callers that
/// asked to go on where their answer arrives. Everything else is handed to the thread pool as on the asynchronous path
/// (a handler that is not inline yields first; an answer not asked inline completes its caller asynchronously), so a slow
/// handler holds back nobody's reader.</para>
/// </summary>
internal sealed class DedicatedReaders
{
    private readonly int _budget;
    private int _available;

    public DedicatedReaders(int budget)
    {
        _budget = Math.Max(0, budget);
        _available = _budget;
    }

    /// <summary>Threads that may run at once.</summary>
    public int Budget => _budget;

    /// <summary>Threads running now.</summary>
    public int Running => _budget - Volatile.Read(ref _available);

    /// <summary>
    /// Runs <paramref name="body"/> on a new thread of its own, or returns false (and runs nothing) when the budget is
    /// spent. The thread gives its place back when <paramref name="body"/> returns.
    /// </summary>
    public bool TryStart(string name, Action body)
    {
        if (Interlocked.Decrement(ref _available) < 0)
        {
            Interlocked.Increment(ref _available);
            return false;
        }
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            finally
            {
                Interlocked.Increment(ref _available);
            }
        })
        {
            // The runtime's default stack: what runs inline here is a whole commit's continuation on the client side
            // (the lease driver, the committer, the filesystem's reply), as deep as on a pool thread.
            IsBackground = true,
            Name = name,
        };
        try
        {
            thread.Start();
        }
        catch
        {
            Interlocked.Increment(ref _available);
            throw;
        }
        return true;
    }
}
