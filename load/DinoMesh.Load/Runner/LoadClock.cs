using System.Diagnostics;

namespace DinoMesh.Load.Runner;

/// <summary>The time base of one measured load: every timeline point and background event is relative to its start.</summary>
public sealed class LoadClock
{
    private readonly long _start = Stopwatch.GetTimestamp();

    /// <summary>Nanoseconds since the load began.</summary>
    public long ElapsedNanoseconds => ToNanoseconds(Stopwatch.GetTimestamp());

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_start);

    /// <summary>A <see cref="Stopwatch"/> timestamp as nanoseconds since the load began.</summary>
    public long ToNanoseconds(long timestamp) => (long)((timestamp - _start) * (1e9 / Stopwatch.Frequency));
}
