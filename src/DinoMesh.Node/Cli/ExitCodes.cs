namespace DinoMesh.Node.Cli;

/// <summary>
/// The one exit-code scheme of every dino-node command (documented in the README): scripts and systemd tell "fix the
/// command line" from "fix the machine" from "it broke while running" by the code alone.
/// </summary>
public static class ExitCodes
{
    /// <summary>Done: the node stopped cleanly (signal, `leave`, unmount from outside), or the command succeeded.</summary>
    public const int Ok = 0;

    /// <summary>
    /// Something failed after start-up: the running node hit an error it could not survive, or a command could not get
    /// its answer from the node (none running, no answer, the node refused the command).
    /// </summary>
    public const int RuntimeFailure = 1;

    /// <summary>The command line or config file is wrong (unknown option, bad value, malformed credential). Retrying cannot help.</summary>
    public const int Usage = 2;

    /// <summary>The node could not start: mount point, data directory, port, join refused or unreachable. Nothing it created is left.</summary>
    public const int StartupFailure = 3;
}
