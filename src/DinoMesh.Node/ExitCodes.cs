namespace DinoMesh.Node;

/// <summary>
/// What dino-node's exit status means (README, "Exit codes"). A service manager can tell a node that will never start
/// on its own (<see cref="DataDamaged"/>: set <c>RestartPreventExitStatus=3</c>) from one that may start on a retry.
/// </summary>
public static class ExitCodes
{
    /// <summary>Stopped cleanly (SIGINT/SIGTERM, `dino-node leave`, or the volume was unmounted from outside).</summary>
    public const int Ok = 0;

    /// <summary>Could not start: the mount point, the data directory (in use, not writable), the cluster, the mount.</summary>
    public const int StartFailed = 1;

    /// <summary>The command line is wrong.</summary>
    public const int Usage = 2;

    /// <summary>The data directory is damaged (metadata log, database, lost synced entries): it needs an operator.</summary>
    public const int DataDamaged = 3;
}
