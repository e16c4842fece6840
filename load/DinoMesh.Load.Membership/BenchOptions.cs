using System.Globalization;

namespace DinoMesh.Load.Membership;

/// <summary>What one run measures and with which limits. Every wait below is bounded by one of these.</summary>
internal sealed record BenchOptions
{
    public int Nodes { get; init; } = 8;

    /// <summary>First three octets of the loopback addresses; node i listens on PREFIX.(i+1).</summary>
    public string AddressPrefix { get; init; } = "127.0.3";

    /// <summary>Quiet time after convergence before the steady-state window, so start-up work is not counted as idle.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The steady-state window: suspicions, deaths, CPU and RSS are measured over it.</summary>
    public TimeSpan Steady { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Give up waiting for every node to list all N alive after this long from the last start.</summary>
    public TimeSpan ConvergeLimit { get; init; } = TimeSpan.FromSeconds(180);

    /// <summary>Give up waiting for every survivor to declare the killed node dead after this long.</summary>
    public TimeSpan DetectLimit { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The whole run, clean-up included, ends within this (a watchdog stops everything).</summary>
    public TimeSpan Budget { get; init; } = TimeSpan.FromMinutes(12);

    /// <summary>dino-node.dll to run (under dotnet), or a dino-node executable (Native AOT); found under src/DinoMesh.Node/bin/Release when not given.</summary>
    public string? DaemonDll { get; init; }

    /// <summary>The nodes' --membership-profile: local (200 ms probes, the default here) or lan (1 s probes).</summary>
    public string Profile { get; init; } = "local";

    /// <summary>Extra environment for every node (e.g. DOTNET_GCgen0size=...), to compare runtime settings.</summary>
    public IReadOnlyDictionary<string, string> NodeEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Where to keep the node logs after the run (they are deleted with the temp dir otherwise).</summary>
    public string? KeepLogs { get; init; }

    public const string Usage = """
        dino-membership-bench [--nodes N] [--steady SECONDS] [--settle SECONDS] [--converge-limit SECONDS]
                              [--address-prefix 127.0.3] [--dll PATH/dino-node.dll|PATH/dino-node] [--membership-profile local|lan] [--node-env KEY=VALUE ...]
                              [--keep-logs DIR] [--budget SECONDS]
        Starts N dino-node processes (root, /dev/fuse) on PREFIX.1..N with --membership-profile local (or as told), founder first,
        the rest back to back, and reports convergence, suspicions, deaths, CPU, RSS and kill -9 detection.
        """;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        var env = new Dictionary<string, string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            TimeSpan Seconds() => TimeSpan.FromSeconds(double.Parse(Value(), CultureInfo.InvariantCulture));
            options = args[i] switch
            {
                "--nodes" => options with { Nodes = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--steady" => options with { Steady = Seconds() },
                "--settle" => options with { Settle = Seconds() },
                "--converge-limit" => options with { ConvergeLimit = Seconds() },
                "--detect-limit" => options with { DetectLimit = Seconds() },
                "--budget" => options with { Budget = Seconds() },
                "--address-prefix" => options with { AddressPrefix = Value() },
                "--membership-profile" => options with { Profile = Value() },
                "--dll" => options with { DaemonDll = Value() },
                "--keep-logs" => options with { KeepLogs = Value() },
                "--node-env" => AddEnv(options, env, Value()),
                "-h" or "--help" => throw new ArgumentException(Usage),
                var other => throw new ArgumentException($"unknown option {other}\n{Usage}"),
            };
        }
        if (options.Nodes is < 2 or > 250) throw new ArgumentException("--nodes must be between 2 and 250");
        return options with { NodeEnvironment = env };
    }

    private static BenchOptions AddEnv(BenchOptions options, Dictionary<string, string> env, string pair)
    {
        var eq = pair.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0) throw new ArgumentException($"--node-env expects KEY=VALUE, got '{pair}'");
        env[pair[..eq]] = pair[(eq + 1)..];
        return options;
    }
}
