namespace DinoMesh.Load.Runner;

/// <summary>
/// How many copies of a scenario run and for how long. Always bounded twice: by a total iteration count and by a
/// duration, whichever is reached first.
/// </summary>
public sealed record LoadSimulation
{
    private LoadSimulation(int copies, long maxIterations, TimeSpan maxDuration, bool durationIsGoal)
    {
        if (copies < 1) throw new ArgumentOutOfRangeException(nameof(copies), "at least one copy");
        if (maxIterations < 0) throw new ArgumentOutOfRangeException(nameof(maxIterations));
        if (maxDuration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(maxDuration), "must be positive");
        Copies = copies;
        MaxIterations = maxIterations;
        MaxDuration = maxDuration;
        DurationIsGoal = durationIsGoal;
    }

    public int Copies { get; }

    public long MaxIterations { get; }

    public TimeSpan MaxDuration { get; }

    /// <summary>
    /// True for <see cref="Concurrent"/>: reaching the duration is the normal end. False for <see cref="Iterations"/>:
    /// the count is the goal and hitting the duration means the scenario did not finish its work.
    /// </summary>
    public bool DurationIsGoal { get; }

    /// <summary>Exactly <paramref name="count"/> iterations shared by <paramref name="copies"/> copies, aborted after <paramref name="timeLimit"/>.</summary>
    public static LoadSimulation Iterations(long count, TimeSpan timeLimit, int copies = 1) =>
        new(copies, count, timeLimit, durationIsGoal: false);

    /// <summary><paramref name="copies"/> copies looping for <paramref name="duration"/>, stopping early after <paramref name="maxIterations"/>.</summary>
    public static LoadSimulation Concurrent(int copies, TimeSpan duration, long maxIterations) =>
        new(copies, maxIterations, duration, durationIsGoal: true);

    public override string ToString() => DurationIsGoal
        ? $"{Copies} copies for {MaxDuration.TotalSeconds:0.#} s (max {MaxIterations} iterations)"
        : $"{MaxIterations} iterations, {Copies} cop{(Copies == 1 ? "y" : "ies")} (limit {MaxDuration.TotalSeconds:0.#} s)";
}
