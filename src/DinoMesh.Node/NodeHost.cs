using System.Runtime.InteropServices;
using DinoMesh.Node.Cli;
using DinoMesh.Node.Web;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Node;

/// <summary>Runs the node under the Generic Host: structured console logs on stderr, SIGINT/SIGTERM handling, systemd readiness.</summary>
public static class NodeHost
{
    /// <summary>Runs until the node stops; returns one of <see cref="ExitCodes"/>.</summary>
    public static async Task<int> RunAsync(NodeOptions options, LogLevel level, CancellationToken cancellationToken)
    {
        // What the data directory looked like before this start, so a failed start can take back what it created.
        var footprint = StartupFootprint.Take(options.DataDirectory);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(level);
        // A start-up failure is reported as one line by the caller, not as the host's stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        // The peer transport and the status page run embedded Kestrels; their start-up chatter says nothing a user needs.
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        var systemd = SystemdReadiness.Configure(builder.Services);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<NodeService>();
        if (options.Metrics is not null)
        {
            // Before the node: a taken metrics port fails the start before anything is created or mounted.
            builder.Services.AddSingleton<StatusServer>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<StatusServer>());
        }
        builder.Services.AddHostedService(sp => sp.GetRequiredService<NodeService>());
        using var host = builder.Build();
        // Under the systemd lifetime only SIGTERM stops the host; Ctrl+C must unmount cleanly too.
        using var interrupt = systemd ? PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        }) : null;
        try
        {
            // Resolved before the run (the host disposes its services when it ends); the host resolves every hosted
            // service before it starts the first, so this changes no order.
            var node = host.Services.GetRequiredService<NodeService>();
            await host.RunAsync(cancellationToken);
            if (node.Failure is { } failure)
            {
                await Console.Error.WriteLineAsync($"dino-node: error: {failure}");
                return ExitCodes.RuntimeFailure;
            }
            return ExitCodes.Ok;
        }
        catch (StartupException e)
        {
            await host.StopAsync(CancellationToken.None);
            footprint.Undo();
            await Console.Error.WriteLineAsync($"dino-node: error: {e.Message}");
            return ExitCodes.StartupFailure;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"dino-node: error: the node failed: {e.Message}");
            if (level <= LogLevel.Debug) await Console.Error.WriteLineAsync(e.ToString());
            return ExitCodes.RuntimeFailure;
        }
    }
}
