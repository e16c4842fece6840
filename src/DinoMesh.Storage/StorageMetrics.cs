using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace DinoMesh.Storage;

/// <summary>
/// The storage layer's instruments: metadata log appends and syncs, chunk hash verifications. Write-only sinks that
/// cost one enabled-check when nobody listens; the meter is process-wide by .NET's design, hence static.
/// </summary>
internal static class StorageMetrics
{
    public const string MeterName = "DinoMesh.Storage";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> LogAppends = Meter.CreateCounter<long>("dinomesh.log.appends", "{entry}", "Entries appended to the metadata log");
    private static readonly Counter<long> LogAppendedBytes = Meter.CreateCounter<long>("dinomesh.log.appended", "By", "Bytes appended to the metadata log (records with their framing)");
    private static readonly Histogram<double> LogSyncDuration = Meter.CreateHistogram<double>("dinomesh.log.sync.duration", "s", "Time of one fdatasync of the metadata log");
    private static readonly Counter<long> Verifications = Meter.CreateCounter<long>("dinomesh.chunk.verifications", "{chunk}", "Chunks hashed on read, by result (ok or corrupt)");

    private static readonly Counter<long> Checked = Meter.CreateCounter<long>("dinomesh.chunk.checked", "{chunk}", "Chunks read whose at-rest checksum matched (no SHA-256 needed)");

    private static readonly KeyValuePair<string, object?> Ok = new("result", "ok");
    private static readonly KeyValuePair<string, object?> Corrupt = new("result", "corrupt");

    public static void LogAppended(int records, long bytes)
    {
        LogAppends.Add(records);
        LogAppendedBytes.Add(bytes);
    }

    /// <summary>One log sync that began at <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static void LogSynced(long started)
    {
        if (LogSyncDuration.Enabled) LogSyncDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    public static void ChunkVerified(bool ok) => Verifications.Add(1, ok ? Ok : Corrupt);

    public static void ChunkChecked() => Checked.Add(1);
}
