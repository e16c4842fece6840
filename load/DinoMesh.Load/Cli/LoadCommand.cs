using System.CommandLine;
using DinoMesh.Load.Scenarios;

namespace DinoMesh.Load.Cli;

/// <summary>
/// The cluster subcommands of dino-load: one per scenario (<c>dino-load small-files --nodes 3 --duration 20s</c>)
/// and <c>all</c>, each with the same options, validated into <see cref="LoadOptions"/>.
/// </summary>
public sealed class LoadCommand
{
    private readonly Option<int?> _nodes = new("--nodes") { Description = "Start a throwaway cluster of N local dino-node processes (default 3 unless --mount is given)" };
    private readonly Option<string[]> _mounts = new("--mount") { Description = "Put load on this existing mount instead (repeat: one per node)", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string> _duration = new("--duration") { Description = "Measured load per scenario (e.g. 20s, 2m)", DefaultValueFactory = _ => "30s" };
    private readonly Option<string> _warmUp = new("--warm-up") { Description = "Load of the same shape before each scenario, excluded from the numbers", DefaultValueFactory = _ => "3s" };
    private readonly Option<string> _load = new("--load") { Description = "keep[:COPIES] (default), ramp:[FROM-]TO, inject:RATE[/MAX_IN_FLIGHT]", DefaultValueFactory = _ => "keep" };
    private readonly Option<int?> _copies = new("--copies") { Description = "Copies for keep (default: per scenario, e.g. 2 per node)" };
    private readonly Option<long> _maxIterations = new("--max-iterations") { Description = "Stop a scenario's load after this many iterations at most", DefaultValueFactory = _ => 10_000_000 };
    private readonly Option<string> _smallFileSize = new("--small-file-size") { Description = "Bytes per small file", DefaultValueFactory = _ => "4k" };
    private readonly Option<string> _fileSize = new("--file-size") { Description = "large-file's file size", DefaultValueFactory = _ => "256m" };
    private readonly Option<string> _blockSize = new("--block-size") { Description = "Size of each sequential read/write call", DefaultValueFactory = _ => "1m" };
    private readonly Option<string> _hotFileSize = new("--hot-file-size") { Description = "hot-file's file size", DefaultValueFactory = _ => "1m" };
    private readonly Option<string> _propagationTimeout = new("--propagation-timeout") { Description = "How long a change may take to show on another node", DefaultValueFactory = _ => "10s" };
    private readonly Option<string> _shareTimeout = new("--share-timeout") { Description = "How long the probe waits for a file to show on the other nodes", DefaultValueFactory = _ => "5s" };
    private readonly Option<string?> _references = new("--references") { Description = "With --nodes 1: also run on native,bindfs and report ratios" };
    private readonly Option<string?> _compare = new("--compare") { Description = "An earlier report (its .json, or the .md/.html beside it) to print this run beside" };
    private readonly Option<string> _workDir = new("--work-dir") { Description = "Where the cluster's mounts and data directories go", DefaultValueFactory = _ => Path.GetTempPath() };
    private readonly Option<string?> _out = new("--out") { Description = "Directory for the reports (default <repo>/load/results)" };
    private readonly Option<string?> _dinoDll = new("--dino-dll") { Description = "Path of dino-node.dll, or of a dino-node executable such as the Native AOT one scripts/install.sh installs (default <repo>/src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll)" };
    private readonly Option<string?> _dinoArgs = new("--dino-args") { Description = "Extra dino-node arguments, space-separated" };
    private readonly Option<int> _startTimeout = new("--start-timeout") { Description = "Seconds for the cluster to mount and list every node alive", DefaultValueFactory = _ => 120 };
    private readonly Option<int> _stopTimeout = new("--stop-timeout") { Description = "Seconds after SIGTERM before SIGKILL", DefaultValueFactory = _ => 15 };
    private readonly Option<string> _failoverStop = new("--failover-stop") { Description = "How failover stops the lease holder: kill (kill -9, a crash) or term (SIGTERM: it hands the lease over)", DefaultValueFactory = _ => "kill" };
    private readonly Option<bool> _noLive = new("--no-live") { Description = "No live view, only a progress line every few seconds" };

    /// <summary>Adds one subcommand per scenario, and <c>all</c>, to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root, Func<LoadOptions, CancellationToken, Task<int>> run)
    {
        foreach (var scenario in ClusterScenarios.All)
        {
            root.Subcommands.Add(new LoadCommand().Create(scenario.Name, scenario.Description, [scenario], run));
        }
        root.Subcommands.Add(new LoadCommand().Create("all", "every cluster scenario in turn", ClusterScenarios.All, run));
    }

    public Command Create(string name, string description, IReadOnlyList<ClusterScenario> scenarios, Func<LoadOptions, CancellationToken, Task<int>> run)
    {
        var command = new Command(name, description)
        {
            _nodes, _mounts, _duration, _warmUp, _load, _copies, _maxIterations, _smallFileSize, _fileSize, _blockSize, _hotFileSize,
            _propagationTimeout, _shareTimeout, _references, _compare, _workDir, _out, _dinoDll, _dinoArgs, _startTimeout, _stopTimeout, _failoverStop, _noLive,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var (options, errors) = Bind(result, scenarios);
            if (options is null)
            {
                foreach (var error in errors) await Console.Error.WriteLineAsync($"error: {error}");
                return 2;
            }
            return await run(options, cancellationToken);
        });
        return command;
    }

    internal (LoadOptions? Options, IReadOnlyList<string> Errors) Bind(ParseResult result, IReadOnlyList<ClusterScenario> scenarios)
    {
        var errors = new List<string>();
        long Bytes(Option<string> option)
        {
            var text = result.GetValue(option);
            if (ByteSize.TryParse(text, out var bytes)) return bytes;
            errors.Add($"{option.Name}: '{text}' is not a size (examples: 4096, 4k, 64m, 1g)");
            return 0;
        }
        TimeSpan Duration(Option<string> option, bool zeroAllowed)
        {
            var text = result.GetValue(option);
            if (DurationText.TryParse(text, out var duration) && (zeroAllowed || duration > TimeSpan.Zero)) return duration;
            errors.Add($"{option.Name}: '{text}' is not a duration (examples: 20s, 500ms, 2m)");
            return TimeSpan.FromSeconds(1);
        }

        var mounts = result.GetValue(_mounts) ?? [];
        var nodes = result.GetValue(_nodes);
        if (mounts.Length > 0 && nodes is not null) errors.Add("--nodes and --mount exclude each other: start a cluster, or use existing mounts");
        var nodeCount = mounts.Length > 0 ? 0 : nodes ?? 3;
        if (mounts.Length == 0 && nodeCount is < 1 or > 200) errors.Add("--nodes must be between 1 and 200");
        if (!LoadSpec.TryParse(result.GetValue(_load), out var load, out var loadError)) errors.Add(loadError);
        var copies = result.GetValue(_copies);
        if (copies is not null)
        {
            if (copies < 1) errors.Add("--copies must be positive");
            else if (load.Shape == Runner.LoadShape.KeepConstant && load.Copies is null) load = load with { Copies = copies };
            else errors.Add("--copies goes with --load keep; give the copies in --load (e.g. ramp:1-16)");
        }
        var duration = Duration(_duration, zeroAllowed: false);
        var warmUp = Duration(_warmUp, zeroAllowed: true);
        var maxIterations = result.GetValue(_maxIterations);
        if (maxIterations < 1) errors.Add("--max-iterations must be positive");
        var smallFileSize = Bytes(_smallFileSize);
        var blockSize = Bytes(_blockSize);
        var fileSize = Bytes(_fileSize);
        var hotFileSize = Bytes(_hotFileSize);
        if (blockSize > 64 << 20) errors.Add("--block-size must be at most 64m");
        if (smallFileSize > 16 << 20) errors.Add("--small-file-size must be at most 16m");
        var references = (result.GetValue(_references) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => r.ToLowerInvariant()).Distinct().ToList();
        errors.AddRange(references.Where(r => r is not "native" and not "bindfs").Select(r => $"--references: unknown '{r}' (native, bindfs)"));
        if (references.Count > 0 && (mounts.Length > 0 || nodeCount != 1)) errors.Add("--references compares single-node runs: use it with --nodes 1");
        var startTimeout = result.GetValue(_startTimeout);
        var stopTimeout = result.GetValue(_stopTimeout);
        if (startTimeout < 1 || stopTimeout < 1) errors.Add("--start-timeout and --stop-timeout must be positive");
        var propagation = Duration(_propagationTimeout, zeroAllowed: false);
        var share = Duration(_shareTimeout, zeroAllowed: false);
        var failoverStop = result.GetValue(_failoverStop);
        if (failoverStop is not "kill" and not "term") errors.Add($"--failover-stop: '{failoverStop}' is neither kill nor term");
        if (errors.Count > 0) return (null, errors);

        var repo = RepositoryLayout.FindRoot();
        var options = new LoadOptions(
            scenarios,
            nodeCount,
            mounts.Select(Path.GetFullPath).ToList(),
            load,
            duration,
            warmUp,
            maxIterations,
            new ClusterWorkload((int)smallFileSize, fileSize, (int)blockSize, hotFileSize, propagation, GracefulFailover: failoverStop == "term"),
            references,
            Path.GetFullPath(result.GetValue(_workDir)!),
            Path.GetFullPath(result.GetValue(_out) ?? RepositoryLayout.DefaultOutput(repo)),
            Path.GetFullPath(result.GetValue(_dinoDll) ?? RepositoryLayout.DefaultDinoDll(repo)),
            (result.GetValue(_dinoArgs) ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries),
            TimeSpan.FromSeconds(startTimeout),
            TimeSpan.FromSeconds(stopTimeout),
            share,
            result.GetValue(_compare),
            !result.GetValue(_noLive),
            "dino-load " + string.Join(' ', result.Tokens.Select(t => t.Value)));
        return (options, []);
    }
}
