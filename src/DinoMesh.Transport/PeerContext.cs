using System.Net;
using DinoMesh.Core.Identity;

namespace DinoMesh.Transport;

/// <summary>Who is calling: handed to every protocol handler.</summary>
/// <param name="Peer">The caller's PeerId, proven by its TLS client certificate.</param>
/// <param name="Admitted">False only inside the join protocol, for a caller that is not (yet) a member.</param>
/// <param name="RemoteEndPoint">The caller's socket address (not necessarily where it accepts connections).</param>
/// <param name="ProtocolId">The protocol being called.</param>
/// <param name="Transport">"h2/tls1.3", "h3/quic", "lean/tls1.3" or "bulk/tls1.3".</param>
public sealed record PeerContext(PeerId Peer, bool Admitted, IPEndPoint? RemoteEndPoint, string ProtocolId, string Transport);
