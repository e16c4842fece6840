namespace DinoMesh.Node;

/// <summary>A start-up failure the user can fix; its message is the one line printed before exiting.</summary>
public sealed class StartupException(string message, Exception? inner = null) : Exception(message, inner);
