namespace DinoMesh.Transport;

/// <summary>
/// A failure inside an open <see cref="PeerStream"/> (unary calls return <see cref="CallResult{T}"/> instead),
/// with the same reasons as a call.
/// </summary>
public sealed class PeerCallException : Exception
{
    public PeerCallException(CallFailure failure, string message, Exception? inner = null) : base(message, inner) => Failure = failure;

    public PeerCallException() : this(CallFailure.RemoteError, "peer call failed") { }

    public PeerCallException(string message) : this(CallFailure.RemoteError, message) { }

    public PeerCallException(string message, Exception inner) : this(CallFailure.RemoteError, message, inner) { }

    public CallFailure Failure { get; }
}
