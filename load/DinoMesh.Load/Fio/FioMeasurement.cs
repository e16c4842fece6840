namespace DinoMesh.Load.Fio;

/// <summary>What one fio job reported on one target (null numbers when the job failed; see <see cref="Error"/>).</summary>
public sealed record FioMeasurement(
    string Target, string Job, double? Iops, double? MegabytesPerSecond, long? P50Nanoseconds, long? P99Nanoseconds, string? Error);
