using System.CommandLine;
using DinoMesh.Cluster.Membership;
using DinoMesh.Node.Control;
using DinoMesh.Storage;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Node.Cli;

/// <summary>
/// The dino-node command line: the daemon (<c>dino-node --mount DIR ...</c>) and the control commands that talk to it
/// (<c>peers</c>, <c>status</c>, <c>token</c>, <c>leave</c>). Every path ends in one of <see cref="ExitCodes"/>.
/// </summary>
public static class NodeCommandLine
{
    private static readonly HashSet<string> ControlCommands = ["peers", "status", "token", "leave", "remove", "statehash"];

    public static async Task<int> RunAsync(string[] args)
    {
        try
        {
            args = ConfigFile.Expand(args, ControlCommands);
        }
        catch (UsageException e)
        {
            return await FailAsync(e.Message, ExitCodes.Usage);
        }
        var parse = Build().Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) await Console.Error.WriteLineAsync($"dino-node: error: {error.Message} (see dino-node --help)");
            return ExitCodes.Usage;
        }
        // The host handles SIGINT/SIGTERM itself (unmount, then exit 0); System.CommandLine must not turn them into exit code 130/143.
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    private static RootCommand Build()
    {
        var mount = new Option<string>("--mount") { Description = "Directory to mount the shared volume on" };
        var config = new Option<string>(ConfigFile.Option) { Description = "A file of 'name = value' settings named like these options (the command line wins)", Recursive = true };
        var dataDir = new Option<string>("--data-dir") { Description = "Where this node keeps chunks, the metadata log and its key (default: /var/lib/dinomesh as root, else $XDG_DATA_HOME/dinomesh or ~/.local/share/dinomesh)", Recursive = true };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "Trace, Debug, Information, Warning, Error", DefaultValueFactory = _ => LogLevel.Information };
        var noAllowOther = new Option<bool>("--no-allow-other") { Description = "Mount without allow_other (only the mounting user sees the volume)" };
        var join = new Option<string>("--join") { Description = "HOST:PORT of a member of the cluster to join" };
        var token = new Option<string>("--token") { Description = $"The cluster's join credential (visible in ps: prefer {Credential.EnvironmentVariable} or --token-file)" };
        var tokenFile = new Option<string>("--token-file") { Description = "A file holding the join credential (must not be accessible to other users)" };
        var listen = new Option<string>("--listen") { Description = "HOST:PORT to accept peer connections on (default: the --advertise address, else 0.0.0.0:7946)" };
        var advertise = new Option<string>("--advertise") { Description = "HOST:PORT other nodes should dial (default: the listen address, or this host's first non-loopback IPv4 address)" };
        var metrics = new Option<string>("--metrics") { Description = "HOST:PORT to serve Prometheus metrics (/metrics) and the status page (/) on, e.g. 127.0.0.1:9464 (off by default)" };
        var profile = new Option<string>("--membership-profile") { Description = "lan (1 s probes, default) or local (200 ms probes, for one machine)", DefaultValueFactory = _ => "lan" };
        var writeback = new Option<bool>("--writeback-cache") { Description = "Let the kernel cache writes (faster small writes; sizes changed on other nodes show late on open files)" };
        var busyPoll = new Option<int>("--busy-poll") { Description = "Microseconds the FUSE reader keeps polling after a request before it sleeps (0: several sleeping readers instead)", DefaultValueFactory = _ => 50 };
        var fsname = new Option<string>("--fsname") { Description = "The mount's source as mount, findmnt and df show it (default: dinomesh:<cluster id>)" };
        var atime = new Option<string>("--atime") { Description = "relatime (default: reads move atime once per change, or daily), strictatime (every read) or noatime (never)", DefaultValueFactory = _ => "relatime" };
        var commitTimeout = new Option<int>("--commit-timeout") { Description = "Seconds a metadata change waits for a lease holder and a majority before failing with ETIMEDOUT (1-3600)", DefaultValueFactory = _ => 10 };
        var replicas = new Option<int>("--replicas") { Description = "Copies of every chunk, on as many machines (capped by the cluster's size)", DefaultValueFactory = _ => 2 };
        var cacheSize = new Option<string>("--cache-size") { Description = "Disk kept for chunks beyond this node's share, e.g. 8G (least recently used go first)", DefaultValueFactory = _ => "8G" };
        var gcGrace = new Option<string>("--gc-grace") { Description = "How long chunks nothing references stay before they are deleted, e.g. 1h, 10m, 30s", DefaultValueFactory = _ => "1h" };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var watch = new Option<bool>("--watch") { Description = "Redraw the table every second until Ctrl+C" };
        var command = new Option<bool>("--command") { Description = "Print the whole command that joins another machine, not only the credential" };

        var root = new RootCommand("dino-node: the daemon of a DinoMesh peer-to-peer filesystem; one per machine")
        {
            mount, config, dataDir, logLevel, noAllowOther, join, token, tokenFile, listen, advertise, metrics, profile, writeback, busyPoll,
            fsname, atime, commitTimeout, replicas, cacheSize, gcGrace,
        };
        root.SetAction(async (parse, cancellationToken) =>
        {
            NodeOptions options;
            LogLevel level;
            try
            {
                var mountPoint = parse.GetValue(mount);
                if (string.IsNullOrWhiteSpace(mountPoint)) throw new UsageException("--mount DIR is required (for example: dino-node --mount /mnt/dino)");
                var advertised = parse.GetValue(advertise);
                options = new NodeOptions
                {
                    MountPoint = mountPoint,
                    DataDirectory = Path.GetFullPath(parse.GetValue(dataDir) ?? DataDirectory.DefaultPath()),
                    AllowOther = !parse.GetValue(noAllowOther),
                    WritebackCache = parse.GetValue(writeback),
                    BusyPoll = parse.GetValue(busyPoll) is var poll and >= 0 and <= 100_000
                        ? TimeSpan.FromMicroseconds(poll)
                        : throw new UsageException($"--busy-poll must be between 0 and 100000 microseconds, not {parse.GetValue(busyPoll)}"),
                    FileSystemName = parse.GetValue(fsname) is { } name
                        ? name.Length is > 0 and <= 255 && !name.Any(c => c == ',' || char.IsWhiteSpace(c) || char.IsControl(c))
                            ? name
                            : throw new UsageException($"--fsname must be 1-255 characters without commas or spaces, not '{name}'")
                        : null,
                    Atime = parse.GetValue(atime) switch
                    {
                        "relatime" => DinoMesh.Fuse.MountAtime.Relatime,
                        "strictatime" => DinoMesh.Fuse.MountAtime.StrictAtime,
                        "noatime" => DinoMesh.Fuse.MountAtime.NoAtime,
                        var other => throw new UsageException($"unknown --atime '{other}' (relatime, strictatime or noatime)"),
                    },
                    CommitTimeout = parse.GetValue(commitTimeout) is var seconds and >= 1 and <= 3600
                        ? TimeSpan.FromSeconds(seconds)
                        : throw new UsageException($"--commit-timeout must be between 1 and 3600 seconds, not {parse.GetValue(commitTimeout)}"),
                    Listen = EndPoints.Listen(parse.GetValue(listen), "--listen") ?? EndPoints.DefaultListen(advertised),
                    Advertise = advertised,
                    Join = parse.GetValue(join),
                    Token = Credential.Resolve(parse.GetValue(token), parse.GetValue(tokenFile), Warn),
                    Metrics = EndPoints.Listen(parse.GetValue(metrics), "--metrics"),
                    Membership = parse.GetValue(profile) switch
                    {
                        "lan" => MembershipConfig.Lan(),
                        "local" => MembershipConfig.Local(),
                        var other => throw new UsageException($"unknown --membership-profile '{other}' (lan or local)"),
                    },
                    Chunks = new DinoMesh.Cluster.Chunks.ChunkOptions
                    {
                        Replicas = parse.GetValue(replicas) is var r and >= 1 and <= 16 ? r : throw new UsageException($"--replicas must be between 1 and 16, not {parse.GetValue(replicas)}"),
                        CacheBytes = OptionValues.TryParseBytes(parse.GetValue(cacheSize) ?? "", out var cache) ? cache
                            : throw new UsageException($"--cache-size expects a size such as 512M or 8G, got '{parse.GetValue(cacheSize)}'"),
                        GcGrace = OptionValues.TryParseDuration(parse.GetValue(gcGrace) ?? "", out var grace) ? grace
                            : throw new UsageException($"--gc-grace expects a duration such as 30s, 10m or 1h, got '{parse.GetValue(gcGrace)}'"),
                    },
                };
                if (options.Join is { } seed) EndPoints.CheckDialable(seed, "--join");
                level = parse.GetValue(logLevel);
            }
            catch (UsageException e)
            {
                return await FailAsync(e.Message, ExitCodes.Usage);
            }
            return await NodeHost.RunAsync(options, level, cancellationToken);
        });

        var peers = new Command("peers", "List the cluster's members as this node sees them") { json, watch };
        peers.SetAction(async (parse, ct) =>
        {
            // The watch redraws a table for people; a script that asked for JSON would otherwise get that table.
            if (parse.GetValue(watch) && parse.GetValue(json)) return await FailAsync("peers: --watch draws a table for people and cannot be combined with --json (run `peers --json` in a loop instead)", ExitCodes.Usage);
            return parse.GetValue(watch)
                ? await PeersWatch.RunAsync(DataDirectoryOf(parse.GetValue(dataDir)), ct)
                : await ControlCommandAsync("peers", parse.GetValue(dataDir), parse.GetValue(json), ct);
        });
        var status = new Command("status", "Summarize the running node") { json };
        status.SetAction((parse, ct) => ControlCommandAsync("status", parse.GetValue(dataDir), parse.GetValue(json), ct));
        var tokenCommand = new Command("token", "Print the running cluster's join credential (secret: it admits a machine to the cluster)") { command };
        tokenCommand.SetAction((parse, ct) => ControlCommandAsync(parse.GetValue(command) ? "token-command" : "token", parse.GetValue(dataDir), false, ct));
        var peerArgument = new Argument<string>("PEER") { Description = "The member's PeerId (or an unambiguous prefix of it, as `dino-node peers` shows)" };
        var remove = new Command("remove", "Evict a member for good: every member refuses its certificate from then on") { peerArgument };
        remove.SetAction((parse, ct) => ControlCommandAsync("remove " + parse.GetValue(peerArgument), parse.GetValue(dataDir), false, ct));
        var leave = new Command("leave", "Leave the cluster gracefully and stop the node");
        leave.SetAction((parse, ct) => ControlCommandAsync("leave", parse.GetValue(dataDir), false, ct));
        root.Subcommands.Add(peers);
        root.Subcommands.Add(status);
        root.Subcommands.Add(tokenCommand);
        root.Subcommands.Add(leave);
        root.Subcommands.Add(remove);
        var stateHash = new Command("statehash", "Print the SHA-256 of this node's metadata state and its version (equal on every node at one version)");
        stateHash.SetAction((parse, ct) => ControlCommandAsync("statehash", parse.GetValue(dataDir), false, ct));
        root.Subcommands.Add(stateHash);
        return root;
    }

    private static string DataDirectoryOf(string? given) => given ?? DataDirectory.DefaultPath();

    private static async Task<int> ControlCommandAsync(string command, string? dataDirectory, bool asJson, CancellationToken cancellationToken)
    {
        var directory = DataDirectoryOf(dataDirectory);
        // "token --command" asks the node for "token" and prints the join line from the answer.
        var asked = command == "token-command" ? "token" : command;
        try
        {
            var result = await ControlClient.CallAsync(directory, asked, TimeSpan.FromSeconds(10), cancellationToken);
            Console.Out.WriteLine(ControlOutput.Render(command.Split(' ')[0], result, asJson));
            return ExitCodes.Ok;
        }
        catch (ControlCommandException e)
        {
            await Console.Error.WriteLineAsync($"dino-node {asked}: error: {e.Message}");
            return ExitCodes.RuntimeFailure;
        }
    }

    private static void Warn(string line) => Console.Error.WriteLine($"dino-node: warning: {line}");

    private static async Task<int> FailAsync(string message, int code)
    {
        await Console.Error.WriteLineAsync($"dino-node: error: {message}");
        return code;
    }
}
