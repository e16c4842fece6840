using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;

namespace DinoMesh.Node;

/// <summary>
/// <c>Type=notify</c>: systemd learns the node is ready (READY=1) only once every hosted service has started, that is
/// once the volume is mounted and the control socket answers, and hears STOPPING=1 when it begins to stop.
/// </summary>
public static class SystemdReadiness
{
    /// <summary>
    /// Registers the systemd lifetime when this process is a systemd service, or whenever <c>NOTIFY_SOCKET</c> is set
    /// (sd_notify's own rule; it also lets a test stand in for systemd). Returns whether it did.
    /// </summary>
    public static bool Configure(IServiceCollection services)
    {
        if (SystemdHelpers.IsSystemdService())
        {
            // Also switches the console logs to journald's format (priority prefixes, no timestamps of our own).
            services.AddSystemd();
            return true;
        }
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"))) return false;
        services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
        services.AddSingleton<IHostLifetime, SystemdLifetime>();
        return true;
    }
}
