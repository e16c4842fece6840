using Microsoft.AspNetCore.Builder;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace DinoMesh.Node.Web;

/// <summary>
/// The Prometheus text exposition of DinoMesh's <c>System.Diagnostics.Metrics</c> instruments: an OpenTelemetry meter
/// provider owned by the node (no global one), aggregating the DinoMesh meters and the runtime's <c>System.Runtime</c>
/// meter, scraped at <c>/metrics</c>. Counters stay counters (<c>_total</c>), units become suffixes
/// (<c>_seconds</c>, <c>_bytes</c>), and recording allocates nothing for the few tags we use.
/// </summary>
public sealed class PrometheusExport : IDisposable
{
    public const string Path = "/metrics";

    // Seconds from 10 µs to ~10 s, a factor of 4 apart: FUSE requests take microseconds, a log sync milliseconds, a
    // commit through a slow disk may take seconds. (OpenTelemetry's default buckets start at 5 ms: useless for FUSE.)
    private static readonly double[] DurationBuckets = [0.00001, 0.00004, 0.00016, 0.00064, 0.0026, 0.01, 0.041, 0.16, 0.66, 2.6, 10.5];

    private readonly MeterProvider _provider;

    private PrometheusExport(MeterProvider provider) => _provider = provider;

    public static PrometheusExport Start() => new(Sdk.CreateMeterProviderBuilder()
        .ConfigureResource(r => r.AddService("dino-node", serviceVersion: NodeService.Version))
        .AddMeter("DinoMesh.*", "System.Runtime")
        .AddView(instrument => instrument.Unit == "s" ? new ExplicitBucketHistogramConfiguration { Boundaries = DurationBuckets } : null)
        .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0)
        .Build());

    /// <summary>Serves the scrape endpoint on <paramref name="app"/> (before the app's own handler).</summary>
    public void MapTo(WebApplication app) =>
        app.UseOpenTelemetryPrometheusScrapingEndpoint(_provider, context => context.Request.Path == Path, path: null, configureBranchedPipeline: null, optionsName: null);

    public void Dispose() => _provider.Dispose();
}
