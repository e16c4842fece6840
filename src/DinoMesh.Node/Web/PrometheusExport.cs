using Prometheus;

namespace DinoMesh.Node.Web;

/// <summary>
/// The Prometheus text exposition of DinoMesh's <c>System.Diagnostics.Metrics</c> instruments, through prometheus-net's
/// meter adapter into a registry of our own (prometheus-net's default registry, and the process metrics it adds, stay
/// unused). Only the DinoMesh meters and the runtime's own <c>System.Runtime</c> meter are exported.
/// </summary>
public sealed class PrometheusExport : IDisposable
{
    // Seconds from 10 µs to ~10 s, a factor of 4 apart: FUSE requests take microseconds, a log sync milliseconds,
    // a commit through a slow disk may take seconds.
    private static readonly double[] DurationBuckets = Histogram.ExponentialBuckets(0.00001, 4, 11);

    private readonly CollectorRegistry _registry;
    private readonly IDisposable _adapter;

    private PrometheusExport(CollectorRegistry registry, IDisposable adapter)
    {
        _registry = registry;
        _adapter = adapter;
    }

    public static PrometheusExport Start()
    {
        var registry = Metrics.NewCustomRegistry();
        var adapter = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = registry,
            InstrumentFilterPredicate = i => i.Meter.Name.StartsWith("DinoMesh.", StringComparison.Ordinal) || i.Meter.Name == "System.Runtime",
            ResolveHistogramBuckets = _ => DurationBuckets,
            // Our label sets are bounded (operations, errnos, peers of the cluster): keep every series for the node's life.
            MetricsExpireAfter = TimeSpan.FromDays(3650),
        });
        return new PrometheusExport(registry, adapter);
    }

    public Task WriteAsync(Stream destination, CancellationToken cancellationToken) => _registry.CollectAndExportAsTextAsync(destination, cancellationToken);

    public void Dispose() => _adapter.Dispose();
}
