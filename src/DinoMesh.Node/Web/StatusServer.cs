using System.Net;
using System.Text;
using System.Text.Json;
using DinoMesh.Node.Control;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Node.Web;

/// <summary>
/// The opt-in HTTP address (<c>--metrics 127.0.0.1:9464</c>): Prometheus metrics at <c>/metrics</c>, the live status
/// page at <c>/</c> (one self-contained HTML file, no external assets), its data at <c>/status.json</c> and as a
/// server-sent event stream at <c>/events</c> (one snapshot a second, so the page updates without a reload).
/// Plain HTTP and read-only, and it never shows the join credential: bind it to loopback or a trusted network.
/// </summary>
public sealed class StatusServer : IHostedService, IAsyncDisposable
{
    /// <summary>How often the page gets a fresh snapshot.</summary>
    public static readonly TimeSpan EventInterval = TimeSpan.FromSeconds(1);

    private readonly IPEndPoint _endPoint;
    private readonly NodeService _node;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly byte[] _page;
    private PrometheusExport? _export;
    private NodeGauges? _gauges;
    private WebApplication? _app;
    private int _stopped;

    public StatusServer(NodeOptions options, NodeService node, ILoggerFactory loggers)
    {
        _endPoint = options.Metrics ?? throw new ArgumentException("no --metrics address", nameof(options));
        _node = node;
        _loggers = loggers;
        _logger = loggers.CreateLogger("status");
        using var page = typeof(StatusServer).Assembly.GetManifestResourceStream("status.html")
            ?? throw new InvalidOperationException("status.html is not embedded");
        using var copy = new MemoryStream();
        page.CopyTo(copy);
        _page = copy.ToArray();
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _export = PrometheusExport.Start();
        _gauges = new NodeGauges(_node.Snapshot, () => _node.Lease, () => _node.LocalHealth);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(_loggers);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(_endPoint, l => l.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        _export.MapTo(app);
        app.Run(ServeAsync);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new StartupException($"cannot serve metrics on {_endPoint}: {e.Message} (pick another address with --metrics HOST:PORT)", e);
        }
        _app = app;
        _logger.LogInformation("metrics on http://{Address}/metrics, status page on http://{Address}/", _endPoint, _endPoint);
    }

    private async Task ServeAsync(HttpContext http)
    {
        if (!HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method))
        {
            http.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }
        http.Response.Headers.CacheControl = "no-store";
        try
        {
            switch (http.Request.Path.Value)
            {
                case "/" or "/index.html":
                    http.Response.ContentType = "text/html; charset=utf-8";
                    // The page may only talk to this address: no scripts, styles or connections from anywhere else.
                    http.Response.Headers.ContentSecurityPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";
                    await http.Response.Body.WriteAsync(_page, http.RequestAborted);
                    break;
                case "/status.json":
                    http.Response.ContentType = "application/json";
                    await http.Response.Body.WriteAsync(SnapshotJson(), http.RequestAborted);
                    break;
                case "/events":
                    await StreamEventsAsync(http);
                    break;
                default:
                    http.Response.StatusCode = StatusCodes.Status404NotFound;
                    break;
            }
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested || _stopping.IsCancellationRequested)
        {
            // The browser went away, or the node is stopping.
        }
    }

    private async Task StreamEventsAsync(HttpContext http)
    {
        http.Response.ContentType = "text/event-stream";
        using var until = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, _stopping.Token);
        using var timer = new PeriodicTimer(EventInterval);
        do
        {
            await http.Response.Body.WriteAsync(Encoding.UTF8.GetBytes("data: "), until.Token);
            await http.Response.Body.WriteAsync(SnapshotJson(), until.Token);
            await http.Response.Body.WriteAsync("\n\n"u8.ToArray(), until.Token);
            await http.Response.Body.FlushAsync(until.Token);
        }
        while (await timer.WaitForNextTickAsync(until.Token));
    }

    /// <summary>What the page shows, as one JSON object (never the join credential).</summary>
    private byte[] SnapshotJson()
    {
        (NodeStatus Status, IReadOnlyList<PeerRow> Peers)? snapshot;
        try
        {
            snapshot = _node.Snapshot();
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or IOException)
        {
            // The node is stopping under us (its parts are being disposed): say so instead of failing the request.
            return JsonSerializer.SerializeToUtf8Bytes(new StatusPage("stopping", null, [], DateTimeOffset.UtcNow), ControlJson.Default.StatusPage);
        }
        var page = snapshot is { } s
            ? new StatusPage("running", s.Status, s.Peers, DateTimeOffset.UtcNow)
            : new StatusPage("starting", null, [], DateTimeOffset.UtcNow);
        return JsonSerializer.SerializeToUtf8Bytes(page, ControlJson.Default.StatusPage);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        await _stopping.CancelAsync();
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync(cancellationToken);
            await app.DisposeAsync();
        }
        _gauges?.Dispose();
        _gauges = null;
        _export?.Dispose();
        _export = null;
    }

    // The host stops it, and the container disposes it (once per registration): only the first call does anything.
    public ValueTask DisposeAsync() => new(StopAsync(CancellationToken.None));
}

/// <summary>The status page's data.</summary>
public sealed record StatusPage(string State, NodeStatus? Node, IReadOnlyList<PeerRow> Peers, DateTimeOffset Time);
