using DinoMesh.Load.Cli;
using DinoMesh.Load.Cluster;
using DinoMesh.Load.Platform;
using DinoMesh.Load.Reporting;
using DinoMesh.Load.Runner;
using DinoMesh.Load.Scenarios;
using DinoMesh.Load.Targets;

namespace DinoMesh.Load;

/// <summary>
/// A run of cluster scenarios: starts each target in turn (the native and bindfs references first when asked, then
/// the throwaway cluster or the existing mounts), probes whether its nodes share a tree, runs every scenario whose
/// needs it meets (the others are reported as "needs ..."), and always stops the target and removes what it
/// created, also on Ctrl+C and on a failed step. The report holds everything measured.
/// </summary>
public sealed class LoadSuite(LoadOptions options, LiveProgress live)
{
    private readonly List<string> _warnings = [];

    /// <summary>What makes the run impossible as asked; empty when it can start.</summary>
    public static IReadOnlyList<string> Preflight(LoadOptions options)
    {
        var errors = new List<string>();
        if (options.Mounts.Count == 0)
        {
            if (!File.Exists("/dev/fuse")) errors.Add("/dev/fuse is missing: dino-node cannot mount here");
            if (!ExternalProcess.IsOnPath("fusermount3")) errors.Add("fusermount3 not found: run scripts/install-deps.sh (package fuse3)");
            if (!ExternalProcess.IsOnPath("setsid") || !ExternalProcess.IsOnPath("setpriv")) errors.Add("setsid/setpriv not found (package util-linux)");
            if (!File.Exists(options.DinoDll))
            {
                errors.Add($"--nodes needs {options.DinoDll}: build it first (dotnet build -c Release src/DinoMesh.Node) or pass --dino-dll PATH");
            }
            if (!Directory.Exists(options.WorkDirectory)) errors.Add($"work directory {options.WorkDirectory} does not exist");
        }
        if (options.References.Contains("bindfs") && !ExternalProcess.IsOnPath("bindfs")) errors.Add("bindfs not found: run scripts/install-deps.sh");
        if (options.Compare is { } compare && !File.Exists(Path.ChangeExtension(compare, ".json"))) errors.Add($"--compare: {Path.ChangeExtension(compare, ".json")} does not exist");
        return errors;
    }

    public async Task<LoadReport> RunAsync(CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.Now;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var loadAtStart = MachineInfo.LoadAverage();
        var stamp = started.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        var runDirectory = $"dino-load-{stamp}-{Guid.NewGuid().ToString("N")[..6]}";
        var records = new List<ScenarioRecord>();
        var targets = new List<TargetRecord>();
        var referenceRoot = Path.Combine(options.WorkDirectory, $"dino-load-references-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        try
        {
            foreach (var target in CreateTargets(referenceRoot, stamp))
            {
                if (cancellationToken.IsCancellationRequested) break;
                targets.Add(await RunTargetAsync(target, runDirectory, records, cancellationToken));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Warn("cancelled: the report holds only what finished before");
        }
        finally
        {
            RemoveDirectory(referenceRoot);
        }
        if (cancellationToken.IsCancellationRequested && !_warnings.Any(w => w.StartsWith("cancelled", StringComparison.Ordinal)))
        {
            Warn("cancelled: the report holds only what finished before");
        }

        var nodeCount = options.Mounts.Count > 0 ? options.Mounts.Count : options.Nodes;
        var loadText = options.Scenarios.Count == 1
            ? options.Load.Build(options.Scenarios[0].DefaultCopies(nodeCount), options.Duration, options.MaxIterations).ToString()
            : $"{options.Load.Shape switch { LoadShape.Ramp => "ramp", LoadShape.Inject => $"inject {options.Load.Rate:0.#}/s", _ => "keep" }} "
              + $"{(options.Load.Copies is { } c ? $"{c} copies" : "each scenario's default copies")} for {options.Duration.TotalSeconds:0.#} s per scenario";
        return new LoadReport(started, clock.Elapsed.TotalSeconds, options.Command, MachineInfo.Collect(options.WorkDirectory), loadAtStart,
            MachineInfo.LoadAverage(), loadText, options.WarmUp.TotalSeconds, targets, records, _warnings);
    }

    /// <summary>The targets in the order they run, each made only when its turn comes (a cluster starts its watchdog when made).</summary>
    private IEnumerable<ILoadTarget> CreateTargets(string referenceRoot, string stamp)
    {
        var timeouts = new TargetTimeouts(options.StartTimeout, options.StopTimeout);
        foreach (var reference in options.References)
        {
            yield return new ReferenceTarget(reference == "native"
                ? new NativeTarget(Path.Combine(referenceRoot, "native"))
                : new BindfsTarget(Path.Combine(referenceRoot, "bindfs-src"), Path.Combine(referenceRoot, "bindfs-mnt"), timeouts, logPath: null));
        }
        yield return options.Mounts.Count > 0
            ? new ExistingMounts(options.Mounts)
            : new LocalCluster(new ClusterSettings(options.Nodes, options.WorkDirectory, Path.Combine(options.OutputDirectory, $"load-{stamp}-nodes"),
                options.DinoDll, options.DinoArgs, options.StartTimeout, options.StopTimeout), live.Log);
    }

    private async Task<TargetRecord> RunTargetAsync(ILoadTarget target, string runDirectory, List<ScenarioRecord> records, CancellationToken cancellationToken)
    {
        var scenarios = target is ReferenceTarget ? options.Scenarios.Where(s => s.HasReferences).ToList() : options.Scenarios.ToList();
        string? error = null;
        var sharing = new SharingReport(SharingLevel.None, "not probed", null, "not probed");
        await using (target)
        {
            try
            {
                live.Log($"target {target.Name}: starting");
                await target.StartAsync(cancellationToken);
                live.Log($"target {target.Name}: {target.Description}");
                sharing = await SharingProbe.RunAsync(target, options.ShareTimeout, cancellationToken);
                live.Log($"target {target.Name}: sharing {sharing.Level}: {sharing.Detail}; lease: {sharing.LeaseDetail}");
                await RunScenariosAsync(target, sharing, runDirectory, scenarios, records, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                foreach (var scenario in scenarios.Where(s => !records.Any(r => r.Scenario == s.Name && r.Target == target.Name)))
                {
                    records.Add(ScenarioRecords.NotRun(scenario.Name, target.Name, ScenarioStatus.Cancelled, "cancelled before it ran"));
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                error = e.Message;
                live.Log($"target {target.Name}: FAILED: {e.Message}");
                foreach (var scenario in scenarios.Where(s => !records.Any(r => r.Scenario == s.Name && r.Target == target.Name)))
                {
                    records.Add(ScenarioRecords.NotRun(scenario.Name, target.Name, ScenarioStatus.Failed, $"target failed: {FirstLine(e.Message)}"));
                }
            }
            finally
            {
                RemoveRunDirectory(target, sharing, runDirectory);
                live.Log($"target {target.Name}: stopping");
            }
        }
        IReadOnlyList<string> stopNotes = target is LocalCluster cluster ? cluster.StopNotes : [];
        return new TargetRecord(target.Name, target.Description,
            target.Nodes.Select(n => new NodeRecord(n.Name, n.Root, n.Address)).ToList(),
            sharing.Level.ToString(), sharing.Detail, sharing.LeaseDetail, error, stopNotes);
    }

    private async Task RunScenariosAsync(
        ILoadTarget target, SharingReport sharing, string runDirectory, IReadOnlyList<ClusterScenario> scenarios, List<ScenarioRecord> records,
        CancellationToken cancellationToken)
    {
        var runner = new ScenarioRunner { Observer = live };
        foreach (var clusterScenario in scenarios)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (clusterScenario.Requirements.Unmet(target, sharing) is { } unmet)
            {
                live.Log($"{clusterScenario.Name} on {target.Name}: {unmet}");
                records.Add(ScenarioRecords.NotRun(clusterScenario.Name, target.Name, ScenarioStatus.Needs, unmet));
                continue;
            }
            var load = options.Load.Build(clusterScenario.DefaultCopies(target.Nodes.Count), options.Duration, options.MaxIterations);
            var context = new ScenarioContext(target, sharing, runDirectory, options.Workload, load, options.WarmUp, live.Log);
            live.Log($"{clusterScenario.Name} on {target.Name}: {load}, warm-up {options.WarmUp.TotalSeconds:0.#} s");
            Scenario built;
            try
            {
                built = clusterScenario.Build(context);
            }
            catch (InvalidOperationException e)
            {
                live.Log($"{clusterScenario.Name} on {target.Name}: set-up failed: {e.Message}");
                records.Add(ScenarioRecords.NotRun(clusterScenario.Name, target.Name, ScenarioStatus.Failed, $"set-up failed: {e.Message}"));
                continue;
            }
            ScenarioRecord record;
            // A node that dies mid-run makes every later call on it fail at once: stop the load instead of
            // recording errors until the duration ends.
            using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var watch = WatchTargetAsync(target, abort);
            try
            {
                var result = await runner.RunAsync(built, abort.Token);
                record = ScenarioRecords.From(target.Name, result, target.Problem);
            }
            catch (ScenarioHungException e)
            {
                records.Add(ScenarioRecords.NotRun(clusterScenario.Name, target.Name, ScenarioStatus.Failed, e.Message));
                throw new InvalidOperationException($"{clusterScenario.Name} hung; the target is stopped to free it", e);
            }
            finally
            {
                await abort.CancelAsync();
                await watch;
            }
            records.Add(record);
            if (record.Status == ScenarioStatus.Cancelled) cancellationToken.ThrowIfCancellationRequested();
            if (target.Problem is { } problem) throw new InvalidOperationException(problem);
        }
    }

    /// <summary>Cancels <paramref name="abort"/> as soon as the target reports a problem (checked twice a second) or the load ends.</summary>
    private static async Task WatchTargetAsync(ILoadTarget target, CancellationTokenSource abort)
    {
        while (!abort.IsCancellationRequested)
        {
            if (target.Problem is not null)
            {
                await abort.CancelAsync();
                return;
            }
            try
            {
                await Task.Delay(500, abort.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Removes this run's directory from every node (once when the tree is shared); what a scenario's clean missed goes too.</summary>
    private void RemoveRunDirectory(ILoadTarget target, SharingReport sharing, string runDirectory)
    {
        IReadOnlyList<LoadNode> nodes;
        try
        {
            nodes = target.Nodes;
        }
        catch (InvalidOperationException)
        {
            return;
        }
        var running = nodes.Where(n => target.Control?.IsRunning(n) ?? true).ToList();
        foreach (var node in sharing.SharesNames ? running.Take(1) : running)
        {
            var path = Path.Combine(node.Root, runDirectory);
            try
            {
                if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Warn($"could not remove {path}: {e.Message}");
            }
        }
    }

    private void RemoveDirectory(string directory)
    {
        if (!Directory.Exists(directory)) return;
        if (MountTable.Read().Any(m => m.MountPoint.StartsWith(directory + "/", StringComparison.Ordinal)))
        {
            Warn($"left {directory} in place because something under it is still mounted");
            return;
        }
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException e)
        {
            Warn($"could not remove {directory}: {e.Message}");
        }
    }

    private static string FirstLine(string text) => text.Split('\n')[0];

    private void Warn(string message)
    {
        if (_warnings.Contains(message)) return;
        _warnings.Add(message);
        live.Log($"warning: {message}");
    }
}
