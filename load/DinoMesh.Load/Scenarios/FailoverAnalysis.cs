using System.Collections.Concurrent;
using System.Globalization;

namespace DinoMesh.Load.Scenarios;

/// <summary>One commit attempt of the fail-over load: when it started and ended (ns since the load began) and whether it succeeded.</summary>
public readonly record struct CommitAttempt(long StartNs, long EndNs, bool Ok);

/// <summary>What a fail-over run showed around the kill.</summary>
/// <param name="Failed">Failed attempts that ended after the kill.</param>
/// <param name="FirstErrorNs">End of the first failed attempt after the kill, or null when none failed.</param>
/// <param name="LastErrorNs">End of the last failed attempt, or null.</param>
/// <param name="NextCommitNs">End of the first successful attempt that started after the kill, or null if none did.</param>
public sealed record FailoverOutcome(long KillNs, long Failed, long? FirstErrorNs, long? LastErrorNs, long? NextCommitNs)
{
    /// <summary>From the first to the last failed call after the kill (zero for one failure), or null when none failed.</summary>
    public TimeSpan? ErrorWindow => FirstErrorNs is { } first && LastErrorNs is { } last ? TimeSpan.FromTicks((last - first) / 100) : null;

    /// <summary>From the kill until the first commit begun after it succeeded, or null when none did.</summary>
    public TimeSpan? TimeToNextCommit => NextCommitNs is { } next ? TimeSpan.FromTicks((next - KillNs) / 100) : null;
}

/// <summary>
/// Collects commit attempts during a fail-over run (thread-safe, bounded) and computes the error window and the time
/// from the kill of the lease holder to the next successful commit. Pure apart from the collection.
/// </summary>
public sealed class FailoverAnalysis
{
    private const int MaxAttempts = 2_000_000;
    private readonly ConcurrentQueue<CommitAttempt> _attempts = new();
    private int _count;

    public void Record(CommitAttempt attempt)
    {
        if (Interlocked.Increment(ref _count) <= MaxAttempts) _attempts.Enqueue(attempt);
    }

    public FailoverOutcome Analyze(long killNs) => Analyze(killNs, _attempts);

    public static FailoverOutcome Analyze(long killNs, IEnumerable<CommitAttempt> attempts)
    {
        var after = attempts.Where(a => a.EndNs >= killNs).ToList();
        var failed = after.Where(a => !a.Ok).ToList();
        var next = after.Where(a => a.Ok && a.StartNs >= killNs).Select(a => (long?)a.EndNs).Min();
        return new FailoverOutcome(killNs, failed.Count, failed.Count == 0 ? null : failed.Min(a => a.EndNs), failed.Count == 0 ? null : failed.Max(a => a.EndNs), next);
    }

    public static string Seconds(long ns) => (ns / 1e9).ToString("0.000", CultureInfo.InvariantCulture) + " s";
}
