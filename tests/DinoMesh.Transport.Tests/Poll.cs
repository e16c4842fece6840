using System.Diagnostics;

namespace DinoMesh.Transport.Tests;

internal static class Poll
{
    /// <summary>Waits until <paramref name="condition"/> holds, checking every 20 ms; fails the test at the deadline.</summary>
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) Assert.Fail($"condition not met within {timeout.TotalSeconds:F1} s");
            await Task.Delay(20, ct);
        }
    }
}
