using System.Diagnostics;
using System.Diagnostics.Metrics;
using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse;

/// <summary>
/// The FUSE layer's instruments: every answered request, by operation and errno, with its latency. Instruments are
/// write-only sinks and cost one enabled-check when nobody listens (the node listens only with <c>--metrics</c>); the
/// meter is process-wide by .NET's design, which is why it is static.
/// </summary>
internal static class FuseMetrics
{
    public const string MeterName = "DinoMesh.Fuse";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(
        "dinomesh.fuse.request.duration", "s", "Time from reading a FUSE request to handing its reply to the kernel (measured just before the write), by operation and errno (0 = success)");

    // Tag values made once: the hot path allocates nothing.
    private static readonly Dictionary<int, string> OperationNames =
        Enum.GetValues<FuseOpcode>().DistinctBy(o => (int)o).ToDictionary(o => (int)o, o => o.ToString().ToLowerInvariant());

    private static readonly string[] ErrnoNames = [.. Enumerable.Range(0, 256).Select(e => e.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>Records one reply to a request that arrived at <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static void Replied(uint opcode, int errno, long started)
    {
        if (!Duration.Enabled) return;
        var operation = OperationNames.GetValueOrDefault((int)opcode, "unknown");
        var error = errno is >= 0 and < 256 ? ErrnoNames[errno] : "other";
        Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds,
            new KeyValuePair<string, object?>("op", operation), new KeyValuePair<string, object?>("errno", error));
    }
}
