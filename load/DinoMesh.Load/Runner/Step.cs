namespace DinoMesh.Load.Runner;

/// <summary>
/// A named, timed action. The runner measures each invocation's latency; an exception counts as a failure with the
/// exception's message, so a step only returns <see cref="StepResult.Fail"/> for failures it detects itself
/// (a short read, wrong content).
/// </summary>
public sealed record Step(string Name, Func<StepContext, ValueTask<StepResult>> Action)
{
    /// <summary>A step whose work is synchronous (file system calls are).</summary>
    public static Step Sync(string name, Func<StepContext, StepResult> action) =>
        new(name, context => ValueTask.FromResult(action(context)));
}
