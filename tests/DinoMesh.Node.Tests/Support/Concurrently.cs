namespace DinoMesh.Node.Tests.Support;

/// <summary>
/// Runs blocking work on several dedicated threads: many files made through a mount (each a blocking round trip to
/// the node, a commit through the lease holder, so overlapping them lets the holder batch them) or one CLI call per
/// node. Dedicated threads start at once where the thread pool would add a thread every half second.
/// </summary>
public static class Concurrently
{
    /// <summary>Calls <paramref name="body"/> for 0..count-1, spread over <paramref name="threads"/> threads; rethrows the first failure.</summary>
    public static void For(int threads, int count, Action<int> body) =>
        WaitAll(Enumerable.Range(0, threads).Select(t => Dedicated(() =>
        {
            for (var i = t; i < count; i += threads) body(i);
            return true;
        })).ToArray());

    /// <summary>
    /// <paramref name="query"/> of every item at once, one thread each, results in the items' order; rethrows the
    /// first failure. For CLI calls to several nodes: each is a process start of its own (about half a second on a
    /// loaded machine), and they need not wait for one another.
    /// </summary>
    public static TResult[] Map<TItem, TResult>(IReadOnlyList<TItem> items, Func<TItem, TResult> query) =>
        WaitAll(items.Select(item => Dedicated(() => query(item))).ToArray());

    private static Task<T> Dedicated<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static T[] WaitAll<T>(Task<T>[] tasks)
    {
        try
        {
            Task.WaitAll(tasks);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        return [.. tasks.Select(t => t.Result)];
    }
}
