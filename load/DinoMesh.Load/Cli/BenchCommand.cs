using System.CommandLine;
using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Cli;

/// <summary>The command line of dino-load: options, their defaults, --quick, and validation into <see cref="BenchOptions"/>.</summary>
public static class BenchCommand
{
    private static readonly Option<string> Targets = new("--targets")
    {
        Description = "Comma-separated targets: native, bindfs, dino",
        DefaultValueFactory = _ => "native,bindfs,dino",
    };

    private static readonly Option<int> Runs = new("--runs") { Description = "Runs per scenario and target; the median is reported", DefaultValueFactory = _ => 3 };
    private static readonly Option<string> FileSize = new("--file-size") { Description = "Size of the sequential file (e.g. 1g, 64m)", DefaultValueFactory = _ => "1g" };
    private static readonly Option<string> BlockSize = new("--block-size") { Description = "Size of each sequential read/write call", DefaultValueFactory = _ => "1m" };
    private static readonly Option<int> SmallFiles = new("--small-files") { Description = "Number of small files", DefaultValueFactory = _ => 10_000 };
    private static readonly Option<string> SmallFileSize = new("--small-file-size") { Description = "Bytes per small file", DefaultValueFactory = _ => "4k" };
    private static readonly Option<int> Copies = new("--copies") { Description = "Concurrent copies for the small-file scenarios", DefaultValueFactory = _ => 1 };
    private static readonly Option<bool> Quick = new("--quick") { Description = "Smoke run: 64 MiB file, 1,000 small files, 1 run (explicit options win)" };
    private static readonly Option<int> TimeLimit = new("--time-limit") { Description = "Seconds a scenario run may take before it is stopped", DefaultValueFactory = _ => 600 };
    private static readonly Option<bool> Fio = new("--fio") { Description = "Also run fio 4 KiB randwrite/randread on every target" };
    private static readonly Option<string> FioSize = new("--fio-size") { Description = "fio file size", DefaultValueFactory = _ => "256m" };
    private static readonly Option<int> FioRuntime = new("--fio-runtime") { Description = "fio seconds per job (at most)", DefaultValueFactory = _ => 30 };
    private static readonly Option<string> WorkDir = new("--work-dir") { Description = "Where the temporary target directories go (local disk)", DefaultValueFactory = _ => Path.GetTempPath() };
    private static readonly Option<string?> Out = new("--out") { Description = "Directory for the reports (default <repo>/load/results)" };
    private static readonly Option<string?> DinoDll = new("--dino-dll") { Description = "Path of dino-node.dll (default <repo>/src/DinoMesh.Node/bin/Release/net10.0/dino-node.dll)" };
    private static readonly Option<int> MountTimeout = new("--mount-timeout") { Description = "Seconds to wait for a FUSE target to mount", DefaultValueFactory = _ => 30 };
    private static readonly Option<int> StopTimeout = new("--stop-timeout") { Description = "Seconds to wait after SIGTERM before SIGKILL", DefaultValueFactory = _ => 15 };

    public static RootCommand Create(Func<BenchOptions, CancellationToken, Task<int>> run)
    {
        var root = new RootCommand("DinoMesh file-system benchmark: the same scenarios on native disk, bindfs and dino-node, side by side")
        {
            Targets, Runs, FileSize, BlockSize, SmallFiles, SmallFileSize, Copies, Quick, TimeLimit,
            Fio, FioSize, FioRuntime, WorkDir, Out, DinoDll, MountTimeout, StopTimeout,
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
    internal static (BenchOptions? Options, IReadOnlyList<string> Errors) Bind(ParseResult result)
    {
        var errors = new List<string>();
        var quick = result.GetValue(Quick);
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

        var targets = (result.GetValue(Targets) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => t.ToLowerInvariant()).Distinct().ToList();
        if (targets.Count == 0) errors.Add("--targets is empty");
        errors.AddRange(targets.Where(t => !BenchOptions.KnownTargets.Contains(t)).Select(t => $"--targets: unknown target '{t}' (known: native, bindfs, dino)"));

        var fileSize = Bytes(FileSize, "64m");
        var blockSize = Bytes(BlockSize, "1m");
        var smallFileSize = Bytes(SmallFileSize, "4k");
        if (blockSize > 64 << 20) errors.Add("--block-size must be at most 64m");
        if (smallFileSize > blockSize) errors.Add("--small-file-size must not exceed --block-size");
        var runs = Positive(Runs, 1);
        var smallFiles = Positive(SmallFiles, 1_000);
        var copies = Positive(Copies, 1);
        var timeLimit = Positive(TimeLimit, 120);
        var fioSize = Bytes(FioSize, "32m");
        var fioRuntime = Positive(FioRuntime, 5);
        var mountTimeout = Positive(MountTimeout, 30);
        var stopTimeout = Positive(StopTimeout, 15);
        if (errors.Count > 0) return (null, errors);

        var repo = RepositoryLayout.FindRoot();
        var options = new BenchOptions(
            targets, runs, fileSize, (int)blockSize, smallFiles, (int)smallFileSize, copies, TimeSpan.FromSeconds(timeLimit),
            result.GetValue(Fio), fioSize, TimeSpan.FromSeconds(fioRuntime),
            Path.GetFullPath(result.GetValue(WorkDir)!),
            Path.GetFullPath(result.GetValue(Out) ?? RepositoryLayout.DefaultOutput(repo)),
            Path.GetFullPath(result.GetValue(DinoDll) ?? RepositoryLayout.DefaultDinoDll(repo)),
            TimeSpan.FromSeconds(mountTimeout), TimeSpan.FromSeconds(stopTimeout),
            "dino-load " + string.Join(' ', result.Tokens.Select(t => t.Value)));
        return (options, []);
    }
}
