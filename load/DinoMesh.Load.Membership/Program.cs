using System.Globalization;
using DinoMesh.Load.Membership;

// The membership benchmark: see README.md. Exit 0 with a report, 1 when a phase failed, 2 on bad usage.
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
{
    Console.Error.WriteLine("dino-membership-bench: needs root and /dev/fuse (every node mounts its volume)");
    return 2;
}
var dll = options.DaemonDll ?? FindDaemon();
if (dll is null || !File.Exists(dll))
{
    Console.Error.WriteLine("dino-membership-bench: dino-node.dll not found; build it (dotnet build -c Release src/DinoMesh.Node) or pass --dll");
    return 2;
}

void Log(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");

var root = Directory.CreateTempSubdirectory("dinomesh-membership-bench-").FullName;
using var budget = new CancellationTokenSource(options.Budget);
var bench = new ClusterBench(options, dll, Log);
using var stopOnSignal = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c =>
{
    c.Cancel = true;
    budget.Cancel();
});
var exit = 0;
try
{
    Log($"{options.Nodes} nodes on {options.AddressPrefix}.1-{options.Nodes}, dll {dll}, temp {root}" +
        (options.NodeEnvironment.Count > 0 ? $", env {string.Join(' ', options.NodeEnvironment.Select(kv => $"{kv.Key}={kv.Value}"))}" : ""));
    var result = await bench.RunAsync(root, budget.Token);
    Console.Out.WriteLine(Report.Markdown(result, options));
    Console.Out.WriteLine(Report.Json(result));
    if (result.Converged is null || result.Detection is null) exit = 1;
}
catch (Exception e) when (e is BenchException or OperationCanceledException)
{
    Log(e is OperationCanceledException ? $"stopped: the run went past its budget of {options.Budget.TotalMinutes:F0} min or was interrupted" : e.Message);
    exit = 1;
}
finally
{
    Log("stopping every node");
    bench.StopAll();
    if (options.KeepLogs is { } keep)
    {
        Directory.CreateDirectory(keep);
        foreach (var node in bench.Nodes) File.WriteAllText(Path.Combine(keep, $"n{node.Index}.log"), node.Log());
        Log($"node logs in {keep}");
    }
    foreach (var node in bench.Nodes) node.Dispose();
    var stillMounted = bench.Nodes.Where(n => File.ReadLines("/proc/self/mounts").Any(l => l.Split(' ') is { Length: > 2 } f && f[1] == n.MountPoint)).ToList();
    if (stillMounted.Count == 0) Directory.Delete(root, recursive: true);
    else Log($"left {root}: still mounted: {string.Join(", ", stillMounted.Select(n => n.MountPoint))}");
}
return exit;

static string? FindDaemon()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "src", "DinoMesh.Node", "bin", "Release", "net10.0", "dino-node.dll");
        if (File.Exists(candidate)) return candidate;
    }
    return null;
}

internal static class Report
{
    public static string Markdown(BenchResult r, BenchOptions o)
    {
        static string S(TimeSpan? t) => t is { } v ? v.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture) + " s" : "not reached";
        var cpu = r.CpuPercent.Where(double.IsFinite).ToList();
        var rss = r.RssBytes.Where(b => b > 0).Select(b => b / 1048576.0).ToList();
        return string.Join('\n',
            "| nodes | started within | converged after last start | join: suspicions / deaths / refusals | steady " + o.Steady.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture) + " s: suspicions / deaths | CPU per node, mean / max | RSS per node, mean / max | kill -9: first / every survivor |",
            "|---|---|---|---|---|---|---|---|",
            $"| {r.Nodes} | {S(r.StartSpread)} | {S(r.Converged)} | {r.JoinSuspicions} / {r.JoinDeaths} / {r.JoinRefusals} | {r.SteadySuspicions} / {r.SteadyDeaths}{(r.SteadyAllAlive ? "" : " (not all alive at the end)")} | " +
            $"{cpu.DefaultIfEmpty().Average():F2} % / {cpu.DefaultIfEmpty().Max():F2} % | {rss.DefaultIfEmpty().Average():F0} / {rss.DefaultIfEmpty().Max():F0} MiB | {S(r.FirstDetection)} / {S(r.Detection)} |");
    }

    public static string Json(BenchResult r) => System.Text.Json.JsonSerializer.Serialize(new
    {
        r.Nodes,
        startSpreadS = r.StartSpread.TotalSeconds,
        convergedS = r.Converged?.TotalSeconds,
        r.JoinSuspicions,
        r.JoinDeaths,
        r.JoinRefusals,
        r.SteadySuspicions,
        r.SteadyDeaths,
        r.SteadyAllAlive,
        cpuPercent = r.CpuPercent.Select(c => double.IsFinite(c) ? Math.Round(c, 3) : (double?)null),
        rssMiB = r.RssBytes.Select(b => Math.Round(b / 1048576.0, 1)),
        firstDetectionS = r.FirstDetection?.TotalSeconds,
        detectionS = r.Detection?.TotalSeconds,
    });
}
