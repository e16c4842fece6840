namespace DinoMesh.Load.Runner;

/// <summary>The outcome of one invocation of a <see cref="Step"/>: ok or failed, and how many payload bytes it moved.</summary>
public readonly record struct StepResult(bool IsOk, long Bytes, string? Error)
{
    public static StepResult Ok(long bytes = 0) => new(true, bytes, null);

    public static StepResult Fail(string error) => new(false, 0, error);
}
