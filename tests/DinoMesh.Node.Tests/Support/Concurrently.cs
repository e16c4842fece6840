namespace DinoMesh.Node.Tests.Support;

/// <summary>
/// Runs a loop body on several dedicated threads, for tests that make many files through a mount: each file is a
/// blocking round trip to the node (a commit through the lease holder), so overlapping them lets the holder batch
/// them, and dedicated threads start at once where the thread pool would add a thread every half second.
/// </summary>
public static class Concurrently
{
    /// <summary>Calls <paramref name="body"/> for 0..count-1, spread over <paramref name="threads"/> threads; rethrows the first failure.</summary>
    public static void For(int threads, int count, Action<int> body)
    {
        var workers = Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(() =>
        {
            for (var i = t; i < count; i += threads) body(i);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        try
        {
            Task.WaitAll(workers);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }
}
