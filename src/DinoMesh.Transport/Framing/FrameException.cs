namespace DinoMesh.Transport.Framing;

/// <summary>What was wrong with a frame.</summary>
public enum FrameError
{
    /// <summary>The length prefix exceeds the receiver's bound.</summary>
    TooLarge,

    /// <summary>The stream ended inside a length prefix or payload.</summary>
    Truncated,

    /// <summary>More frames than the protocol allows (a unary message is exactly one frame).</summary>
    Unexpected,
}

/// <summary>A malformed or oversized frame on a peer stream.</summary>
public sealed class FrameException : Exception
{
    public FrameException(FrameError error, string message) : base(message) => Error = error;

    public FrameException() : this(FrameError.Truncated, "bad frame") { }

    public FrameException(string message) : this(FrameError.Truncated, message) { }

    public FrameException(string message, Exception inner) : base(message, inner) => Error = FrameError.Truncated;

    public FrameError Error { get; }
}
