namespace DinoMesh.Transport.Identity;

/// <summary>
/// The node's identity could not be loaded or created. The message is one actionable line meant for the operator
/// (the daemon prints it and exits).
/// </summary>
public sealed class NodeIdentityException : Exception
{
    public NodeIdentityException(string message) : base(message) { }

    public NodeIdentityException(string message, Exception inner) : base(message, inner) { }

    public NodeIdentityException() { }
}
