using System.CommandLine;
using System.Net;
using DinoMesh.Cluster.Membership;
using DinoMesh.Cluster.Node;
using DinoMesh.Node;
using DinoMesh.Node.Control;
using DinoMesh.Storage;
using Microsoft.Extensions.Logging;

var mount = new Option<string>("--mount") { Description = "Directory to mount the shared volume on" };
var dataDir = new Option<string>("--data-dir") { Description = "Where this node keeps chunks, the metadata log and its key (default: /var/lib/dinomesh as root, ~/.local/share/dinomesh otherwise)", Recursive = true };
var logLevel = new Option<LogLevel>("--log-level") { Description = "Trace, Debug, Information, Warning, Error", DefaultValueFactory = _ => LogLevel.Information };
var noAllowOther = new Option<bool>("--no-allow-other") { Description = "Mount without allow_other (only the mounting user sees the volume)" };
var join = new Option<string>("--join") { Description = "HOST:PORT of a member of the cluster to join" };
var token = new Option<string>("--token") { Description = "The cluster's join credential (or set DINOMESH_TOKEN, or use --token-file)" };
var tokenFile = new Option<FileInfo>("--token-file") { Description = "A file holding the join credential" };
var listen = new Option<string>("--listen") { Description = $"HOST:PORT to accept peer connections on (default 0.0.0.0:{ClusterOptions.DefaultPort})" };
var advertise = new Option<string>("--advertise") { Description = "HOST:PORT other nodes should dial (default: the listen address, or this host's first IPv4 address)" };
var profile = new Option<string>("--membership-profile") { Description = "lan (1 s probes, default) or local (200 ms probes, for one machine)", DefaultValueFactory = _ => "lan" };
var writeback = new Option<bool>("--writeback-cache") { Description = "Let the kernel cache writes (faster small writes; sizes changed on other nodes show late on open files)" };
var busyPoll = new Option<int>("--busy-poll") { Description = "Microseconds the FUSE reader keeps polling after a request before it sleeps (0: several sleeping readers instead)", DefaultValueFactory = _ => 50 };
var fsname = new Option<string>("--fsname") { Description = "The mount's source as mount, findmnt and df show it (default: dinomesh:<cluster id>)" };
var atime = new Option<string>("--atime") { Description = "relatime (default: reads move atime once per change, or daily), strictatime (every read) or noatime (never)", DefaultValueFactory = _ => "relatime" };
var replicas = new Option<int>("--replicas") { Description = "Copies of every chunk, on as many machines (capped by the cluster's size)", DefaultValueFactory = _ => 2 };
var cacheSize = new Option<string>("--cache-size") { Description = "Disk kept for chunks beyond this node's share, e.g. 8G (least recently used go first)", DefaultValueFactory = _ => "8G" };
var gcGrace = new Option<string>("--gc-grace") { Description = "How long chunks nothing references stay before they are deleted, e.g. 1h, 10m, 30s", DefaultValueFactory = _ => "1h" };
var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };

var root = new RootCommand("dino-node: the daemon of a DinoMesh peer-to-peer filesystem; one per machine")
{
    mount, dataDir, logLevel, noAllowOther, join, token, tokenFile, listen, advertise, profile, writeback, busyPoll, fsname, atime,
    replicas, cacheSize, gcGrace,
};
root.SetAction(async (parse, cancellationToken) =>
{
    try
    {
        var mountPoint = parse.GetValue(mount);
        if (string.IsNullOrWhiteSpace(mountPoint)) throw new StartupException("--mount DIR is required (for example: dino-node --mount /mnt/dino)");
        var options = new NodeOptions
        {
            MountPoint = mountPoint,
            DataDirectory = parse.GetValue(dataDir) ?? DataDirectory.DefaultPath(),
            AllowOther = !parse.GetValue(noAllowOther),
            WritebackCache = parse.GetValue(writeback),
            FileSystemName = parse.GetValue(fsname) is { } name
                ? name.Length is > 0 and <= 255 && !name.Any(c => c == ',' || char.IsWhiteSpace(c) || char.IsControl(c))
                    ? name
                    : throw new StartupException($"--fsname must be 1-255 characters without commas or spaces, not '{name}'")
                : null,
            Atime = parse.GetValue(atime) switch
            {
                "relatime" => DinoMesh.Fuse.MountAtime.Relatime,
                "strictatime" => DinoMesh.Fuse.MountAtime.StrictAtime,
                "noatime" => DinoMesh.Fuse.MountAtime.NoAtime,
                var other => throw new StartupException($"unknown --atime '{other}' (relatime, strictatime or noatime)"),
            },
            BusyPoll = parse.GetValue(busyPoll) is var poll and >= 0 and <= 100_000
                ? TimeSpan.FromMicroseconds(poll)
                : throw new StartupException($"--busy-poll must be between 0 and 100000 microseconds, not {parse.GetValue(busyPoll)}"),
            Listen = ParseEndPoint(parse.GetValue(listen), "--listen") ?? new IPEndPoint(IPAddress.Any, ClusterOptions.DefaultPort),
            Advertise = parse.GetValue(advertise),
            Join = parse.GetValue(join),
            Token = Credential(parse.GetValue(token), parse.GetValue(tokenFile)),
            Membership = parse.GetValue(profile) switch
            {
                "lan" => MembershipConfig.Lan(),
                "local" => MembershipConfig.Local(),
                var other => throw new StartupException($"unknown --membership-profile '{other}' (lan or local)"),
            },
            Chunks = new DinoMesh.Cluster.Chunks.ChunkOptions
            {
                Replicas = parse.GetValue(replicas) is var r and >= 1 and <= 16 ? r : throw new StartupException($"--replicas must be between 1 and 16, not {parse.GetValue(replicas)}"),
                CacheBytes = OptionValues.TryParseBytes(parse.GetValue(cacheSize) ?? "", out var cache) ? cache
                    : throw new StartupException($"--cache-size expects a size such as 512M or 8G, got '{parse.GetValue(cacheSize)}'"),
                GcGrace = OptionValues.TryParseDuration(parse.GetValue(gcGrace) ?? "", out var grace) ? grace
                    : throw new StartupException($"--gc-grace expects a duration such as 30s, 10m or 1h, got '{parse.GetValue(gcGrace)}'"),
            },
        };
        if (options.Join is { } seed) ParseEndPoint(seed, "--join", allowHostName: true);
        return await NodeHost.RunAsync(options, parse.GetValue(logLevel), cancellationToken);
    }
    catch (StartupException e)
    {
        await Console.Error.WriteLineAsync($"dino-node: error: {e.Message}");
        return 2;
    }
});

var jsonCommands = new (string Name, string Description)[]
{
    ("peers", "List the cluster's members as this node sees them"),
    ("status", "Summarize the running node"),
};
foreach (var (name, description) in jsonCommands)
{
    var command = new Command(name, description) { json };
    command.SetAction((parse, ct) => ControlCommandAsync(name, parse.GetValue(dataDir), parse.GetValue(json), ct));
    root.Subcommands.Add(command);
}
var tokenCommand = new Command("token", "Print the running cluster's join credential");
tokenCommand.SetAction((parse, ct) => ControlCommandAsync("token", parse.GetValue(dataDir), false, ct));
root.Subcommands.Add(tokenCommand);
var leaveCommand = new Command("leave", "Leave the cluster gracefully and stop the node");
leaveCommand.SetAction((parse, ct) => ControlCommandAsync("leave", parse.GetValue(dataDir), false, ct));
root.Subcommands.Add(leaveCommand);

// The host handles SIGINT/SIGTERM itself (unmount, then exit 0); System.CommandLine must not turn them into exit code 130/143.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

static async Task<int> ControlCommandAsync(string command, string? dataDirectory, bool asJson, CancellationToken cancellationToken)
{
    var directory = dataDirectory ?? DataDirectory.DefaultPath();
    try
    {
        var result = await ControlClient.CallAsync(directory, command, TimeSpan.FromSeconds(10), cancellationToken);
        Console.Out.WriteLine(ControlOutput.Render(command, result, asJson));
        return 0;
    }
    catch (ControlCommandException e)
    {
        await Console.Error.WriteLineAsync($"dino-node {command}: error: {e.Message}");
        return 1;
    }
}

static string? Credential(string? token, FileInfo? file)
{
    string? text;
    if (!string.IsNullOrWhiteSpace(token)) text = token.Trim();
    else if (file is not null)
    {
        if (!file.Exists) throw new StartupException($"--token-file {file.FullName} does not exist");
        text = File.ReadAllText(file.FullName).Trim();
    }
    else
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("DINOMESH_TOKEN");
        text = string.IsNullOrWhiteSpace(fromEnvironment) ? null : fromEnvironment.Trim();
    }
    // Checked before anything starts, so a typo costs one line and nothing else.
    if (text is not null && !DinoMesh.Transport.Identity.JoinToken.TryParse(text, out _))
    {
        throw new StartupException("the join credential is malformed (expected dmt1.<cluster>.<secret>, as printed by `dino-node token`)");
    }
    return text;
}

static IPEndPoint? ParseEndPoint(string? text, string option, bool allowHostName = false)
{
    if (text is null) return null;
    // Port 0 (any free port) is fine to listen on, never to dial.
    if (IPEndPoint.TryParse(text, out var endPoint) && (endPoint.Port != 0 || !allowHostName) && text.Contains(':', StringComparison.Ordinal)) return endPoint;
    var colon = text.LastIndexOf(':');
    if (allowHostName && colon > 0 && int.TryParse(text[(colon + 1)..], out var port) && port is > 0 and < 65536) return null;
    throw new StartupException($"{option} expects HOST:PORT (for example 10.0.0.5:{ClusterOptions.DefaultPort}), got '{text}'");
}
