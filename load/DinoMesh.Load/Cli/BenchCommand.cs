using System.CommandLine;
using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Cli;

/// <summary>The command line of dino-load: options, their defaults, --quick, and validation into <see cref="BenchOptions"/>.</summary>
public sealed class BenchCommand
{
    private readonly Option<string> _targets = new("--targets")
    {
        Description = "Comma-separated targets: native, bindfs, dino",
        DefaultValueFactory = _ => "native,bindfs,dino",
    };

    private readonly Option<int> _runs = new("--runs") { Description = "Runs per scenario and target; the median is reported", DefaultValueFactory = _ => 3 };
    private readonly Option<string> _fileSize = new("--file-size") { Description = "Size of the sequential file (e.g. 1g, 64m)", DefaultValueFactory = _ => "1g" };
    private readonly Option<string> _blockSize = new("--block-size") { Description = "Size of each sequential read/write call", DefaultValueFactory = _ => "1m" };
    private readonly Option<int> _smallFiles = new("--small-files") { Description = "Number of small files", DefaultValueFactory = _ => 10_000 };
    private readonly Option<string> _smallFileSize = new("--small-file-size") { Description = "Bytes per small file", DefaultValueFactory = _ => "4k" };
    private readonly Option<int> _copies = new("--copies") { Description = "Concurrent copies for the small-file scenarios", DefaultValueFactory = _ => 1 };
    private readonly Option<bool> _quick = new("--quick") { Description = "Smoke run: 64 MiB file, 1,000 small files, 1 run (explicit options win)" };
    private readonly Option<int> _timeLimit = new("--time-limit") { Description = "Seconds a scenario run may take before it is stopped", DefaultValueFactory = _ => 600 };
    private readonly Option<bool> _fio = new("--fio") { Description = "Also run fio 4 KiB randwrite/randread on every target" };
    private readonly Option<string> _fioSize = new("--fio-size") { Description = "fio file size", DefaultValueFactory = _ => "256m" };
    private readonly Option<int> _fioRuntime = new("--fio-runtime") { Description = "fio seconds per job (at most)", DefaultValueFactory = _ => 30 };
    private readonly Option<string> _workDir = new("--work-dir") { Description = "Where the temporary target directories go (local disk)", DefaultValueFactory = _ => Path.GetTempPath() };
    private readonly Option<string?> _out = new("--out") { Description = "Directory for the reports (default <repo>/load/results)" };
    private readonly Option<string?> _dinoArgs = new("--dino-args") { Description = "Extra arguments for dino-node, space-separated (e.g. \"--busy-poll 0\")" };
    private readonly Option<string?> _dinoDll = new("--dino-dll") { Description = "Path of dino-node.dll, or of a dino-node executable such as the Native AOT one scripts/install.sh installs (default <repo>/src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll)" };
    private readonly Option<int> _mountTimeout = new("--mount-timeout") { Description = "Seconds to wait for a FUSE target to mount", DefaultValueFactory = _ => 30 };
    private readonly Option<bool> _noDropCaches = new("--no-drop-caches")
    {
        Description = "Do not sync + drop the kernel caches before scenarios (they are global: other work on the machine loses its cache too)",
    };

    private readonly Option<int> _stopTimeout = new("--stop-timeout") { Description = "Seconds to wait after SIGTERM before SIGKILL", DefaultValueFactory = _ => 15 };

    public RootCommand Create(Func<BenchOptions, CancellationToken, Task<int>> run)
    {
        var root = new RootCommand("DinoMesh file-system benchmark: the same scenarios on native disk, bindfs and dino-node, side by side")
        {
            _targets, _runs, _fileSize, _blockSize, _smallFiles, _smallFileSize, _copies, _quick, _timeLimit,
            _fio, _fioSize, _fioRuntime, _workDir, _out, _dinoDll, _dinoArgs, _mountTimeout, _stopTimeout, _noDropCaches,
        };
        root.SetAction(async (result, cancellationToken) =>
        {
            var (options, errors) = Bind(result);
            if (options is null)
            {
                foreach (var error in errors) await Console.Error.WriteLineAsync($"error: {error}");
                return 2;
            }
            return await run(options, cancellationToken);
        });
        return root;
    }

    /// <summary>Reads and checks the options; either the options or the reasons they are unusable.</summary>
    internal (BenchOptions? Options, IReadOnlyList<string> Errors) Bind(ParseResult result)
    {
        var errors = new List<string>();
        var quick = result.GetValue(_quick);
        bool Given(Option option) => result.GetResult(option) is { Implicit: false };
        T Pick<T>(Option<T> option, T quickValue) => quick && !Given(option) ? quickValue : result.GetValue(option)!;
        long Bytes(Option<string> option, string quickValue)
        {
            var text = Pick(option, quickValue);
            if (ByteSize.TryParse(text, out var bytes)) return bytes;
            errors.Add($"{option.Name}: '{text}' is not a size (examples: 4096, 4k, 64m, 1g)");
            return 0;
        }
        int Positive(Option<int> option, int quickValue)
        {
            var value = Pick(option, quickValue);
            if (value <= 0) errors.Add($"{option.Name} must be positive");
            return value;
        }

        var targets = (result.GetValue(_targets) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => t.ToLowerInvariant()).Distinct().ToList();
        if (targets.Count == 0) errors.Add("--targets is empty");
        errors.AddRange(targets.Where(t => !BenchOptions.KnownTargets.Contains(t)).Select(t => $"--targets: unknown target '{t}' (known: native, bindfs, dino)"));

        var fileSize = Bytes(_fileSize, "64m");
        var blockSize = Bytes(_blockSize, "1m");
        var smallFileSize = Bytes(_smallFileSize, "4k");
        if (blockSize > 64 << 20) errors.Add("--block-size must be at most 64m");
        if (smallFileSize > blockSize) errors.Add("--small-file-size must not exceed --block-size");
        var runs = Positive(_runs, 1);
        var smallFiles = Positive(_smallFiles, 1_000);
        var copies = Positive(_copies, 1);
        var timeLimit = Positive(_timeLimit, 120);
        var fioSize = Bytes(_fioSize, "32m");
        var fioRuntime = Positive(_fioRuntime, 5);
        var mountTimeout = Positive(_mountTimeout, 30);
        var stopTimeout = Positive(_stopTimeout, 15);
        if (errors.Count > 0) return (null, errors);

        var repo = RepositoryLayout.FindRoot();
        var options = new BenchOptions(
            targets, runs, fileSize, (int)blockSize, smallFiles, (int)smallFileSize, copies, TimeSpan.FromSeconds(timeLimit),
            result.GetValue(_fio), fioSize, TimeSpan.FromSeconds(fioRuntime),
            Path.GetFullPath(result.GetValue(_workDir)!),
            Path.GetFullPath(result.GetValue(_out) ?? RepositoryLayout.DefaultOutput(repo)),
            Path.GetFullPath(result.GetValue(_dinoDll) ?? RepositoryLayout.DefaultDinoDll(repo)),
            TimeSpan.FromSeconds(mountTimeout), TimeSpan.FromSeconds(stopTimeout),
            "dino-load " + string.Join(' ', result.Tokens.Select(t => t.Value)),
            DropCaches: !result.GetValue(_noDropCaches),
            DinoArgs: (result.GetValue(_dinoArgs) ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return (options, []);
    }
}
