using System.Diagnostics;
using System.Net;
using DinoMesh.Transport;
using DinoMesh.Transport.Identity;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Load.Chunks;

/// <summary>
/// Small unary calls (a 100-byte request answered by 100 bytes) between two transports in this process over loopback
/// mutual TLS: what a heartbeat, a vote, a proposal or a SWIM ping costs on each path. Process CPU time covers both
/// ends, so "CPU per call" is what one call costs the cluster. Each figure is the median of the runs.
/// </summary>
internal static class SmallCalls
{
    private const string Echo = "/bench/echo/1";

    /// <summary>The ways a small call can go.</summary>
    public enum Path
    {
        /// <summary>CallAsync with the lean path turned off on the caller: HTTP/2.</summary>
        Http2,

        /// <summary>CallBulkAsync: one call at a time per pooled plain-TLS connection.</summary>
        Bulk,

        /// <summary>CallAsync as the node makes it: the lean path where the peer serves it.</summary>
        Default,
    }

    public static async Task<int> RunAsync(int calls, int runs, int[] concurrencies, Path[] paths, int size)
    {
        var root = Directory.CreateTempSubdirectory("dinomesh-load-calls-").FullName;
        try
        {
            var admission = new SetAdmission();
            await using var server = await Endpoint.StartAsync(root, "server", admission, lean: true);
            await using var http2Caller = await Endpoint.StartAsync(root, "h2caller", admission, lean: false);
            await using var caller = await Endpoint.StartAsync(root, "caller", admission, lean: true);
            var request = new byte[size];
            Random.Shared.NextBytes(request);
            Console.WriteLine($"{calls} calls of {size} B each way per run, {runs} runs; {Environment.ProcessorCount} cores; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
            Console.WriteLine($"{"path",-10} {"in flight",9} {"median RTT ms",14} {"p99 RTT ms",11} {"calls/s",9} {"CPU us/call",12}");
            foreach (var concurrency in concurrencies)
            {
                // Warm up every path first (connections dialled, code jitted), then alternate the paths run by run so
                // that a change in the machine's load falls on all of them alike.
                foreach (var path in paths) await MeasureAsync(From(path), server, path, request, Math.Min(calls, 1000), concurrency);
                var results = paths.ToDictionary(p => p, _ => new List<Measurement>());
                for (var run = 0; run < runs; run++)
                {
                    foreach (var path in paths) results[path].Add(await MeasureAsync(From(path), server, path, request, calls, concurrency));
                }
                foreach (var path in paths)
                {
                    var r = results[path];
                    Console.WriteLine($"{path,-10} {concurrency,9} {Median(r, m => m.MedianRtt),14:F3} {Median(r, m => m.P99Rtt),11:F3} {Median(r, m => m.CallsPerSecond),9:F0} {Median(r, m => m.CpuPerCall),12:F0}");
                }
            }
            Console.WriteLine($"load average after: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

            Endpoint From(Path path) => path == Path.Http2 ? http2Caller : caller;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
        return 0;
    }

    private static double Median(List<Measurement> results, Func<Measurement, double> of) =>
        results.Select(of).Order().ElementAt(results.Count / 2);

    private readonly record struct Measurement(double MedianRtt, double P99Rtt, double CallsPerSecond, double CpuPerCall);

    private static async Task<Measurement> MeasureAsync(Endpoint from, Endpoint to, Path path, byte[] request, int calls, int concurrency)
    {
        var process = Process.GetCurrentProcess();
        var rtts = new double[calls];
        var next = -1;
        var deadline = TimeSpan.FromSeconds(10);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < calls)
            {
                var sent = Stopwatch.GetTimestamp();
                var result = path == Path.Bulk
                    ? await from.Transport.CallBulkAsync(to.Address, to.Id, Echo, request, deadline, stop.Token)
                    : await from.Transport.CallAsync(to.Address, to.Id, Echo, request, deadline, stop.Token);
                if (!result.Ok || result.Value!.Length != request.Length) throw new InvalidOperationException($"call failed: {result}");
                rtts[i] = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
            }
        })));
        var wall = Stopwatch.GetElapsedTime(started);
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;
        Array.Sort(rtts);
        return new Measurement(rtts[calls / 2], rtts[(int)(calls * 0.99)], calls / wall.TotalSeconds, cpu.TotalMicroseconds / calls);
    }

    private sealed class Endpoint : IAsyncDisposable
    {
        private readonly NodeIdentity _identity;

        private Endpoint(NodeIdentity identity, PeerTransport transport)
        {
            _identity = identity;
            Transport = transport;
        }

        public PeerTransport Transport { get; }

        public Core.Identity.PeerId Id => _identity.PeerId;

        public string Address => Transport.ListenEndPoint!.ToString();

        public static async Task<Endpoint> StartAsync(string root, string name, SetAdmission admission, bool lean)
        {
            var identity = NodeIdentity.LoadOrCreate(System.IO.Path.Combine(root, name));
            admission.Admit(identity.PeerId);
            var transport = new PeerTransport(identity, new TransportOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0), CallLean = lean }, admission, NullLoggerFactory.Instance);
            transport.RegisterUnary(Echo, 64 * 1024, static (_, request, _) => ValueTask.FromResult(request.ToArray()));
            await transport.StartAsync();
            return new Endpoint(identity, transport);
        }

        public async ValueTask DisposeAsync()
        {
            await Transport.DisposeAsync();
            _identity.Dispose();
        }
    }
}
