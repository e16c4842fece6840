using DinoMesh.Integration.Tests.Support;

namespace DinoMesh.Integration.Tests.Targets;

/// <summary>
/// The real daemon: <c>dotnet src/DinoMesh.Node/bin/&lt;Configuration&gt;/net10.0/dino-node.dll
/// --mount &lt;tmp&gt;/mnt --data-dir &lt;tmp&gt;/data</c>, built by the solution with the same
/// configuration as this test assembly.
/// </summary>
public sealed class DinoNodeTarget : MountedTarget
{
    private DinoNodeTarget(string? mountPoint, string? dataDir, string[] extraArgs)
        : base("dinomesh-node-")
    {
        DataDir = dataDir ?? Path.Combine(TempDir, "data");
        EffectiveMountPoint = mountPoint ?? MountPoint;
        ExtraArgs = extraArgs;
    }

    public string DataDir { get; }

    /// <summary>Command-line options given to every start of this daemon (such as --atime noatime).</summary>
    public string[] ExtraArgs { get; }

    /// <summary>Where this daemon is told to mount; differs from <see cref="MountedTarget.MountPoint"/> only in start-up error tests.</summary>
    public string EffectiveMountPoint { get; }

    public override string Name => "dino-node";

    /// <summary>The built daemon; throws with instructions when it has not been built.</summary>
    public static string DaemonDll => SourceTree.DaemonDll;

    /// <summary>Creates the target and starts the daemon, waiting for the mount.</summary>
    public static DinoNodeTarget Mount() => Create(start: true);

    /// <summary>Creates the target and starts the daemon with extra options, waiting for the mount.</summary>
    public static DinoNodeTarget Mount(params string[] extraArgs) => Create(true, null, null, extraArgs);

    /// <summary>The repository's root (where DinoMesh.sln and scripts/ are).</summary>
    public static string Repository => SourceTree.RepoRoot;

    /// <summary>
    /// Creates the target without starting it. <paramref name="mountPoint"/> and <paramref name="dataDir"/>
    /// override the defaults for tests that point a daemon at another daemon's directories.
    /// </summary>
    public static DinoNodeTarget Create(bool start = false, string? mountPoint = null, string? dataDir = null, params string[] extraArgs)
    {
        _ = DaemonDll;
        var target = new DinoNodeTarget(mountPoint, dataDir, extraArgs);
        try
        {
            if (start)
            {
                target.Start();
            }
            return target;
        }
        catch
        {
            target.Dispose();
            throw;
        }
    }

    /// <summary>Starts the daemon without waiting for a mount, for start-up error tests.</summary>
    public DaemonProcess Launch() => LaunchDaemon();

    /// <summary>Starts the daemon with extra command-line arguments without waiting for a mount.</summary>
    public DaemonProcess Launch(params string[] extraArgs) =>
        DaemonProcess.Start(SourceTree.DaemonCommand.File, [.. SourceTree.DaemonCommand.Prefix, "--mount", EffectiveMountPoint, "--data-dir", DataDir, "--listen", "127.0.0.1:0", .. extraArgs], LogPath);

    protected override DaemonProcess LaunchDaemon() =>
        // Any free loopback port: several daemons run side by side in one test run.
        DaemonProcess.Start(SourceTree.DaemonCommand.File, [.. SourceTree.DaemonCommand.Prefix, "--mount", EffectiveMountPoint, "--data-dir", DataDir, "--listen", "127.0.0.1:0", .. ExtraArgs], LogPath);
}
