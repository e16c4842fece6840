using DinoMesh.Load.Cli;
using DinoMesh.Load.Fio;
using DinoMesh.Load.Platform;
using DinoMesh.Load.Reporting;
using DinoMesh.Load.Runner;
using DinoMesh.Load.Scenarios;
using DinoMesh.Load.Targets;

namespace DinoMesh.Load;

/// <summary>
/// The benchmark: starts every selected target once, then for each run executes all scenarios on each target in
/// turn (targets interleaved within a run, so a slow drift of the machine hits them all alike), optionally runs fio,
/// and always stops and unmounts the targets and removes its temporary directories.
/// </summary>
public sealed class BenchSuite(BenchOptions options, TextWriter console)
{
    private readonly List<string> _warnings = [];
    private readonly Dictionary<string, string> _targetErrors = [];

    /// <summary>What makes the benchmark impossible to run as asked; empty when it can start.</summary>
    public static IReadOnlyList<string> Preflight(BenchOptions options)
    {
        var errors = new List<string>();
        var fuse = options.Targets.Any(t => t != "native");
        if (fuse && !File.Exists("/dev/fuse")) errors.Add("/dev/fuse is missing: FUSE targets cannot run here");
        if (fuse && !ExternalProcess.IsOnPath("fusermount3")) errors.Add("fusermount3 not found: run scripts/install-deps.sh (package fuse3)");
        if (options.Targets.Contains("bindfs") && !ExternalProcess.IsOnPath("bindfs")) errors.Add("bindfs not found: run scripts/install-deps.sh");
        if (options.Targets.Contains("dino") && !File.Exists(options.DinoDll))
        {
            errors.Add($"target 'dino' selected but {options.DinoDll} does not exist: build it first "
                + "(dotnet build -c Release src/DinoMesh.Node) or pass --dino-dll PATH, or leave 'dino' out of --targets");
        }
        if (options.Fio && !ExternalProcess.IsOnPath("fio")) errors.Add("--fio given but fio not found: run scripts/install-deps.sh");
        if (!Directory.Exists(options.WorkDirectory)) errors.Add($"work directory {options.WorkDirectory} does not exist");
        return errors;
    }

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.Now;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var loadAtStart = MachineInfo.LoadAverage();
        if (!options.DropCaches) Warn("--no-drop-caches: caches are not dropped, so seq-read-cold is not cold");
        else if (!Posix.IsRoot) Warn("not running as root: caches cannot be dropped, so seq-read-cold is not cold");
        var caches = new CacheControl(Warn) { Enabled = options.DropCaches };
        var workRoot = Path.Combine(options.WorkDirectory, $"dinomesh-bench-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(workRoot);
        var targets = CreateTargets(workRoot, started);
        var series = new SeriesBuilder();
        var fio = new List<FioMeasurement>();
        try
        {
            await StartTargetsAsync(targets, cancellationToken);
            await RunScenariosAsync(targets, caches, series, cancellationToken);
            if (options.Fio) fio.AddRange(await RunFioAsync(targets, caches, cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Warn("cancelled: the report holds only what finished before");
        }
        finally
        {
            await StopTargetsAsync(targets);
            RemoveWorkRoot(workRoot);
        }

        var names = targets.Select(t => t.Name).ToList();
        return new BenchReport(
            started,
            clock.Elapsed.TotalSeconds,
            options.Command,
            MachineInfo.Collect(options.WorkDirectory),
            loadAtStart,
            MachineInfo.LoadAverage(),
            new WorkloadInfo(options.FileSize, options.BlockSize, options.SmallFiles, options.SmallFileSize, options.Copies, options.Runs),
            targets.Select(t => new TargetInfo(t.Name, t.Description, _targetErrors.GetValueOrDefault(t.Name), (t as FuseDaemonTarget)?.StopNote)).ToList(),
            series.Build(names),
            fio,
            _warnings);
    }

    private List<BenchTarget> CreateTargets(string workRoot, DateTimeOffset started)
    {
        var timeouts = new TargetTimeouts(options.MountTimeout, options.StopTimeout);
        var stamp = started.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        return options.Targets.Select<string, BenchTarget>(name => name switch
        {
            "native" => new NativeTarget(Path.Combine(workRoot, "native")),
            "bindfs" => new BindfsTarget(Path.Combine(workRoot, "bindfs-src"), Path.Combine(workRoot, "bindfs-mnt"), timeouts, logPath: null),
            "dino" => new DinoNodeTarget(options.DinoDll, Path.Combine(workRoot, "dino-mnt"), Path.Combine(workRoot, "dino-data"), timeouts,
                LogPath($"dino-node-{stamp}.log"), options.DinoArgs),
            _ => throw new ArgumentException($"unknown target {name}"),
        }).ToList();
    }

    private string LogPath(string fileName)
    {
        Directory.CreateDirectory(options.OutputDirectory);
        return Path.Combine(options.OutputDirectory, fileName);
    }

    private async Task StartTargetsAsync(List<BenchTarget> targets, CancellationToken cancellationToken)
    {
        foreach (var target in targets)
        {
            try
            {
                await target.StartAsync(cancellationToken);
                console.WriteLine($"target {target.Name}: {target.Description}");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _targetErrors[target.Name] = $"did not start: {e.Message}";
                console.WriteLine($"target {target.Name}: FAILED to start: {e.Message}");
            }
        }
    }

    private async Task RunScenariosAsync(List<BenchTarget> targets, CacheControl caches, SeriesBuilder series, CancellationToken cancellationToken)
    {
        var workload = new FsWorkload(options.FileSize, options.BlockSize, options.SmallFiles, options.SmallFileSize, options.Copies, options.ScenarioTimeLimit);
        var payload = new Payload(options.BlockSize);
        var sequential = new SequentialScenarios(workload, payload, caches);
        var small = new SmallFileScenarios(workload, payload, caches);
        var runner = new ScenarioRunner();
        await WarmUpAsync(targets, runner, cancellationToken);
        for (var run = 1; run <= options.Runs; run++)
        {
            foreach (var target in targets.Where(t => !_targetErrors.ContainsKey(t.Name)))
            {
                var runDirectory = Path.Combine(target.Root, $"run-{run}");
                foreach (var scenario in sequential.Build(runDirectory).Concat(small.Build(runDirectory)))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    ScenarioResult result;
                    try
                    {
                        result = await runner.RunAsync(scenario, cancellationToken);
                    }
                    catch (ScenarioHungException e)
                    {
                        _targetErrors[target.Name] = $"run {run}: {e.Message}";
                        console.WriteLine($"run {run}/{options.Runs}  {target.Name,-7} {scenario.Name,-16} HUNG: {e.Message}");
                        break;
                    }
                    series.Add(target.Name, result);
                    console.WriteLine(ProgressLine(run, target.Name, result));
                    if (target.Problem is { } problem)
                    {
                        _targetErrors[target.Name] = $"run {run}: {problem}";
                        break;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Runs every scenario once on every target with a tiny workload and discards the numbers, so that JIT
    /// compilation and first-touch costs are not charged to whichever target happens to run first.
    /// </summary>
    private async Task WarmUpAsync(List<BenchTarget> targets, ScenarioRunner runner, CancellationToken cancellationToken)
    {
        var workload = new FsWorkload(Math.Min(options.FileSize, 4L * options.BlockSize), options.BlockSize, Math.Min(options.SmallFiles, 50),
            options.SmallFileSize, options.Copies, options.ScenarioTimeLimit);
        var payload = new Payload(options.BlockSize);
        var caches = new CacheControl(Warn) { Enabled = false };
        foreach (var target in targets.Where(t => !_targetErrors.ContainsKey(t.Name)))
        {
            var directory = Path.Combine(target.Root, "warm-up");
            var scenarios = new SequentialScenarios(workload, payload, caches).Build(directory)
                .Concat(new SmallFileScenarios(workload, payload, caches).Build(directory));
            var failed = new List<string>();
            foreach (var scenario in scenarios)
            {
                try
                {
                    var result = await runner.RunAsync(scenario, cancellationToken);
                    if (!result.IsValid) failed.Add(scenario.Name);
                }
                catch (ScenarioHungException e)
                {
                    _targetErrors[target.Name] = $"warm-up: {e.Message}";
                    break;
                }
            }
            console.WriteLine($"warm-up {target.Name,-7} {(failed.Count == 0 ? "ok" : "failed: " + string.Join(", ", failed))}");
        }
    }

    private string ProgressLine(int run, string target, ScenarioResult result)
    {
        var unit = result.Headline == Headline.MegabytesPerSecond ? "MB/s" : "ops/s";
        var value = result.HeadlineValue is { } v ? $"{Format.Number(v),10} {unit}" : $"{"FAILED",10} {unit}";
        var detail = result.IsValid ? "" : $"  [{result.StopReason}, {result.FailedCalls} failed calls{(result.Error is null ? "" : ", " + result.Error)}]";
        return $"run {run}/{options.Runs}  {target,-7} {result.Name,-16} {value}  ({result.Wall.TotalSeconds:0.00} s){detail}";
    }

    private async Task<IReadOnlyList<FioMeasurement>> RunFioAsync(List<BenchTarget> targets, CacheControl caches, CancellationToken cancellationToken)
    {
        var fio = new FioRunner(options.FioSize, options.FioRuntime, caches);
        var all = new List<FioMeasurement>();
        foreach (var target in targets.Where(t => !_targetErrors.ContainsKey(t.Name)))
        {
            try
            {
                var measured = await fio.RunAsync(target, cancellationToken);
                all.AddRange(measured);
                foreach (var m in measured)
                {
                    console.WriteLine($"fio     {target.Name,-7} {m.Job,-16} {Format.Number(m.Iops),10} IOPS  {Format.Number(m.MegabytesPerSecond)} MB/s {m.Error}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                all.Add(new FioMeasurement(target.Name, "randwrite+randread", null, null, null, null, e.Message));
            }
        }
        return all;
    }

    private async Task StopTargetsAsync(List<BenchTarget> targets)
    {
        foreach (var target in Enumerable.Reverse(targets))
        {
            try
            {
                await target.DisposeAsync();
            }
            catch (Exception e)
            {
                Warn($"{target.Name}: stopping failed: {e.Message}");
            }
        }
    }

    private void RemoveWorkRoot(string workRoot)
    {
        var leftMounted = MountTable.Read().Where(m => m.MountPoint.StartsWith(workRoot + "/", StringComparison.Ordinal)).ToList();
        if (leftMounted.Count > 0)
        {
            // Deleting recursively through a live mount would delete the mounted file system's contents.
            Warn($"left in place because still mounted: {string.Join(", ", leftMounted.Select(m => m.MountPoint))}; remove {workRoot} by hand");
            return;
        }
        try
        {
            Directory.Delete(workRoot, recursive: true);
        }
        catch (IOException e)
        {
            Warn($"could not remove {workRoot}: {e.Message}");
        }
    }

    private void Warn(string message)
    {
        if (_warnings.Contains(message)) return;
        _warnings.Add(message);
        console.WriteLine($"warning: {message}");
    }
}
