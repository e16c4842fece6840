namespace DinoMesh.Node.Cli;

/// <summary>A wrong command line or config file; its message is the one line printed before exiting with <see cref="ExitCodes.Usage"/>.</summary>
public sealed class UsageException(string message) : Exception(message);
