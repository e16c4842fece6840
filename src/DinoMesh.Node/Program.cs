using System.CommandLine;
using DinoMesh.Node;
using DinoMesh.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var mount = new Option<string>("--mount") { Description = "Directory to mount the shared volume on" };
var dataDir = new Option<string>("--data-dir") { Description = "Where this node keeps chunks, the metadata log and its key (default: /var/lib/dinomesh as root, ~/.local/share/dinomesh otherwise)" };
var logLevel = new Option<LogLevel>("--log-level") { Description = "Trace, Debug, Information, Warning, Error", DefaultValueFactory = _ => LogLevel.Information };
var noAllowOther = new Option<bool>("--no-allow-other") { Description = "Mount without allow_other (only the mounting user sees the volume)" };

var root = new RootCommand("dino-node: one daemon per machine of a DinoMesh peer-to-peer filesystem")
{
    mount, dataDir, logLevel, noAllowOther,
};
root.SetAction(async (parse, cancellationToken) =>
{
    var mountPoint = parse.GetValue(mount);
    if (string.IsNullOrWhiteSpace(mountPoint))
    {
        Console.Error.WriteLine("dino-node: error: --mount DIR is required (for example: dino-node --mount /mnt/dino)");
        return 2;
    }
    var options = new NodeOptions
    {
        MountPoint = mountPoint,
        DataDirectory = parse.GetValue(dataDir) ?? DataDirectory.DefaultPath(),
        AllowOther = !parse.GetValue(noAllowOther),
    };
    return await NodeHost.RunAsync(options, parse.GetValue(logLevel), cancellationToken);
});
// The host handles SIGINT/SIGTERM itself (unmount, then exit 0); System.CommandLine must not turn them into exit code 130/143.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
