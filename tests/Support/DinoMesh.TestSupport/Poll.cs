using System.Diagnostics;

namespace DinoMesh.TestSupport;

/// <summary>Bounded waits: every wait in this suite is a poll with an interval and a deadline, never a fixed sleep.</summary>
public static class Poll
{
    /// <summary>
    /// Checks <paramref name="condition"/> every <paramref name="every"/> until it holds or <paramref name="timeout"/>
    /// passes. Returns the time it took, or null on timeout.
    /// </summary>
    public static TimeSpan? Until(Func<bool> condition, TimeSpan timeout, TimeSpan? every = null)
    {
        var interval = every ?? TimeSpan.FromMilliseconds(200);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (condition())
            {
                return clock.Elapsed;
            }
            if (clock.Elapsed >= timeout)
            {
                return null;
            }
            Thread.Sleep(interval);
        }
    }
}
