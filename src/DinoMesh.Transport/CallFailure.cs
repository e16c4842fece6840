namespace DinoMesh.Transport;

/// <summary>Why a call to a peer failed.</summary>
public enum CallFailure
{
    /// <summary>The call succeeded.</summary>
    None = 0,

    /// <summary>No connection: connect refused or timed out, TLS handshake failed, connection lost.</summary>
    Unreachable,

    /// <summary>The peer did not admit us for this protocol (not a member, or a bad join credential).</summary>
    Refused,

    /// <summary>The deadline passed before the answer was complete.</summary>
    Timeout,

    /// <summary>A message exceeded the receiver's size bound (request at the server or response at the client).</summary>
    TooLarge,

    /// <summary>The answer was not a well-formed frame or message.</summary>
    BadResponse,

    /// <summary>The peer's key does not hash to the PeerId we expected (or it is not an admitted peer).</summary>
    IdentityMismatch,

    /// <summary>The peer does not serve this protocol id (version skew).</summary>
    UnknownProtocol,

    /// <summary>The peer said our request was malformed.</summary>
    BadRequest,

    /// <summary>The peer's handler failed.</summary>
    RemoteError,

    /// <summary>The caller's own cancellation token fired.</summary>
    Cancelled,

    /// <summary>
    /// The peer reset the stream: it stopped taking what we send (usually because it has already answered; read the
    /// answer with <see cref="PeerStream.ReceiveAsync"/>). Says nothing against the connection, which stays in use.
    /// </summary>
    StreamReset,
}
