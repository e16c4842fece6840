using DinoMesh.Core.Identity;

namespace DinoMesh.Transport;

/// <summary>A snapshot of one outgoing link, for <c>dino-node peers</c> and the startup log.</summary>
/// <param name="Peer">The peer's PeerId (empty until a handshake succeeded, when the link does not pin one).</param>
/// <param name="Address">host:port dialled.</param>
/// <param name="Transport">How the last successful call went: "lean/tls1.3", "h2/tls1.3", "h3/quic", or "" before the first.</param>
/// <param name="LastRtt">Round trip of the most recent successful unary call or ping (includes handler time).</param>
/// <param name="LastSuccess">When a call on this link last succeeded.</param>
/// <param name="LastFailure">
/// The most recent failure of the link itself (Unreachable, IdentityMismatch, Timeout) since its last success, or
/// <see cref="CallFailure.None"/>. An answer such as Refused or TooLarge, a reset stream or the caller's own cancellation
/// does not count: the connection carried it fine.
/// </param>
public sealed record PeerLink(
    PeerId Peer,
    string Address,
    string Transport,
    TimeSpan? LastRtt,
    DateTimeOffset? LastSuccess,
    CallFailure LastFailure);
