namespace DinoMesh.Load.Runner;

/// <summary>The shape of a load, as NBomber names them.</summary>
public enum LoadShape
{
    /// <summary>A fixed number of iterations shared by the copies; the count is the goal.</summary>
    Iterations,

    /// <summary>A fixed number of copies, each looping, for a duration (NBomber's KeepConstant).</summary>
    KeepConstant,

    /// <summary>The number of looping copies moves linearly from one count to another over the duration (RampingConstant).</summary>
    Ramp,

    /// <summary>A fixed arrival rate: a new iteration starts every 1/rate seconds whether or not earlier ones finished (Inject).</summary>
    Inject,
}

/// <summary>
/// How many copies of a scenario run and for how long. Always bounded twice: by a total iteration count and by a
/// duration, whichever is reached first. <see cref="Copies"/> is the most iterations that can run at once, for
/// every shape (for <see cref="LoadShape.Inject"/>, an arrival that finds all of them busy is dropped and counted).
/// </summary>
public sealed record LoadSimulation
{
    private LoadSimulation(LoadShape shape, int copies, int startCopies, double rate, long maxIterations, TimeSpan maxDuration)
    {
        if (copies < 1) throw new ArgumentOutOfRangeException(nameof(copies), "at least one copy");
        if (startCopies < 0 || startCopies > copies) throw new ArgumentOutOfRangeException(nameof(startCopies));
        if (maxIterations < 0) throw new ArgumentOutOfRangeException(nameof(maxIterations));
        if (maxDuration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(maxDuration), "must be positive");
        if (shape == LoadShape.Inject && !(rate > 0 && rate <= 1_000_000)) throw new ArgumentOutOfRangeException(nameof(rate), "between 0 and 1,000,000 per second");
        Shape = shape;
        Copies = copies;
        StartCopies = startCopies;
        Rate = rate;
        MaxIterations = maxIterations;
        MaxDuration = maxDuration;
    }

    public LoadShape Shape { get; }

    /// <summary>The most iterations in flight at once: the copies (for a ramp, the larger end; for inject, the slots).</summary>
    public int Copies { get; }

    /// <summary>For a ramp, the number of copies at the start (the other end is one of <see cref="Copies"/> or this).</summary>
    public int StartCopies { get; }

    /// <summary>For a ramp, the number of copies at the end.</summary>
    public int EndCopies { get; private init; }

    /// <summary>For inject, new iterations per second.</summary>
    public double Rate { get; }

    public long MaxIterations { get; }

    public TimeSpan MaxDuration { get; }

    /// <summary>
    /// True for every shape but <see cref="LoadShape.Iterations"/>: reaching the duration is the normal end. False
    /// for iterations: the count is the goal and hitting the duration means the scenario did not finish its work.
    /// </summary>
    public bool DurationIsGoal => Shape != LoadShape.Iterations;

    /// <summary>Exactly <paramref name="count"/> iterations shared by <paramref name="copies"/> copies, aborted after <paramref name="timeLimit"/>.</summary>
    public static LoadSimulation Iterations(long count, TimeSpan timeLimit, int copies = 1) =>
        new(LoadShape.Iterations, copies, copies, 0, count, timeLimit) { EndCopies = copies };

    /// <summary><paramref name="copies"/> copies looping for <paramref name="duration"/>, stopping early after <paramref name="maxIterations"/>.</summary>
    public static LoadSimulation KeepConstant(int copies, TimeSpan duration, long maxIterations) =>
        new(LoadShape.KeepConstant, copies, copies, 0, maxIterations, duration) { EndCopies = copies };

    /// <summary>The same as <see cref="KeepConstant"/> (the name the single-node benchmark uses).</summary>
    public static LoadSimulation Concurrent(int copies, TimeSpan duration, long maxIterations) => KeepConstant(copies, duration, maxIterations);

    /// <summary>From <paramref name="from"/> copies to <paramref name="to"/> copies, linearly over <paramref name="duration"/>.</summary>
    public static LoadSimulation Ramp(int from, int to, TimeSpan duration, long maxIterations)
    {
        if (from < 0 || to < 0 || Math.Max(from, to) < 1) throw new ArgumentOutOfRangeException(nameof(to), "a ramp needs at least one copy at one end");
        return new(LoadShape.Ramp, Math.Max(from, to), from, 0, maxIterations, duration) { EndCopies = to };
    }

    /// <summary><paramref name="perSecond"/> new iterations per second for <paramref name="duration"/>, at most <paramref name="maxInFlight"/> at once.</summary>
    public static LoadSimulation Inject(double perSecond, TimeSpan duration, int maxInFlight, long maxIterations) =>
        new(LoadShape.Inject, maxInFlight, maxInFlight, perSecond, maxIterations, duration) { EndCopies = maxInFlight };

    /// <summary>The same simulation, run for <paramref name="duration"/> instead (a warm-up of the same shape).</summary>
    public LoadSimulation WithDuration(TimeSpan duration) => Shape switch
    {
        LoadShape.Iterations => Iterations(MaxIterations, duration, Copies),
        LoadShape.KeepConstant => KeepConstant(Copies, duration, MaxIterations),
        LoadShape.Ramp => Ramp(StartCopies, EndCopies, duration, MaxIterations),
        _ => Inject(Rate, duration, Copies, MaxIterations),
    };

    /// <summary>How many looping copies should be running <paramref name="elapsed"/> into the load.</summary>
    public int ActiveCopies(TimeSpan elapsed)
    {
        if (Shape != LoadShape.Ramp) return Copies;
        var progress = Math.Clamp(elapsed / MaxDuration, 0, 1);
        // Rounded up on the way up (the first copy starts at once), down on the way down.
        var exact = StartCopies + (EndCopies - StartCopies) * progress;
        return Math.Max(EndCopies > StartCopies ? (int)Math.Ceiling(exact) : (int)Math.Floor(exact), Math.Min(1, Copies));
    }

    /// <summary>True when copy <paramref name="copy"/> will never be asked to run again after <paramref name="elapsed"/>.</summary>
    public bool IsRetired(int copy, TimeSpan elapsed) => Shape == LoadShape.Ramp && EndCopies < StartCopies && copy >= ActiveCopies(elapsed);

    public override string ToString() => Shape switch
    {
        LoadShape.Iterations => $"{MaxIterations} iterations, {Copies} cop{(Copies == 1 ? "y" : "ies")} (limit {MaxDuration.TotalSeconds:0.#} s)",
        LoadShape.KeepConstant => $"keep {Copies} cop{(Copies == 1 ? "y" : "ies")} for {MaxDuration.TotalSeconds:0.#} s (max {MaxIterations} iterations)",
        LoadShape.Ramp => $"ramp {StartCopies} -> {EndCopies} copies over {MaxDuration.TotalSeconds:0.#} s (max {MaxIterations} iterations)",
        _ => $"inject {Rate:0.#}/s for {MaxDuration.TotalSeconds:0.#} s, at most {Copies} in flight (max {MaxIterations} iterations)",
    };
}
