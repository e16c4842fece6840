namespace DinoMesh.Transport;

/// <summary>A count of the incoming connections (see <see cref="ConnectionLimits"/>).</summary>
/// <param name="Open">All open connections.</param>
/// <param name="Handshaking">Connections still in their TLS handshake (nobody knows who they are yet).</param>
/// <param name="Strangers">Connections of peers that are not admitted.</param>
/// <param name="Max">The cap on open connections in force (after the descriptor limit lowered it).</param>
public readonly record struct IncomingConnections(int Open, int Handshaking, int Strangers, int Max);
