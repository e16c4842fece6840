using System.Diagnostics;
using System.Diagnostics.Metrics;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

/// <summary>
/// The volume's instruments: metadata commits and syncs, chunk bytes written and read. Write-only sinks that cost one
/// enabled-check when nobody listens; the meter is process-wide by .NET's design, hence static.
/// </summary>
internal static class VolumeMetrics
{
    public const string MeterName = "DinoMesh.Volume";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Commits = Meter.CreateCounter<long>("dinomesh.commits", "{mutation}", "Metadata mutations offered for commit, by result (ok, duplicate, or the errno name)");
    private static readonly Histogram<double> CommitDuration = Meter.CreateHistogram<double>("dinomesh.commit.duration", "s", "Time to apply and append one mutation");
    private static readonly Histogram<double> SyncDuration = Meter.CreateHistogram<double>("dinomesh.sync.duration", "s", "Time of an fsync of the volume (chunks, then the log)");
    private static readonly Counter<long> ChunkWrites = Meter.CreateCounter<long>("dinomesh.chunk.writes", "{chunk}", "Chunks sealed, by result (stored, deduplicated, failed)");
    private static readonly Counter<long> ChunkWrittenBytes = Meter.CreateCounter<long>("dinomesh.chunk.written", "By", "Bytes of chunks sealed (a deduplicated chunk counts: it was written by the application)");
    private static readonly Counter<long> ChunkReads = Meter.CreateCounter<long>("dinomesh.chunk.reads", "{read}", "Reads from chunks, by result (ok or failed)");
    private static readonly Counter<long> ChunkReadBytes = Meter.CreateCounter<long>("dinomesh.chunk.read", "By", "Bytes read from chunks");

    private static readonly Counter<long> Compactions = Meter.CreateCounter<long>("dinomesh.compactions", "{run}", "Background compactions committed, by result (compacted, raced: a write landed there first, refused)");
    private static readonly Counter<long> CompactionRewritten = Meter.CreateCounter<long>("dinomesh.compaction.rewritten", "By", "Bytes the compactor read and stored again");

    public static void Compacted(string outcome, long bytes)
    {
        Compactions.Add(1, new KeyValuePair<string, object?>("result", outcome));
        CompactionRewritten.Add(bytes);
    }

    public static void Committed(ApplyResult result, long started)
    {
        if (!Commits.Enabled) return;
        var outcome = !result.Ok ? result.Error.ToString().ToLowerInvariant() : result.Effect.Duplicate ? "duplicate" : "ok";
        Commits.Add(1, new KeyValuePair<string, object?>("result", outcome));
        CommitDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    public static void Synced(long started)
    {
        if (SyncDuration.Enabled) SyncDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    public static void ChunkWritten(string outcome, int bytes)
    {
        ChunkWrites.Add(1, new KeyValuePair<string, object?>("result", outcome));
        ChunkWrittenBytes.Add(bytes);
    }

    public static void ChunkRead(bool ok, int bytes)
    {
        ChunkReads.Add(1, new KeyValuePair<string, object?>("result", ok ? "ok" : "failed"));
        if (ok) ChunkReadBytes.Add(bytes);
    }
}
