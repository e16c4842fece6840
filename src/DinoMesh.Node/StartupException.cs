namespace DinoMesh.Node;

/// <summary>A start-up failure the user can fix; its message is the one line printed before exiting with <see cref="ExitCode"/>.</summary>
public sealed class StartupException(string message, Exception? inner = null, int exitCode = ExitCodes.StartFailed) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
