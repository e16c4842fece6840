namespace DinoMesh.Transport;

/// <summary>
/// Bounds on incoming connections, so that no client can take the descriptors, memory or time the node needs for its
/// members and its own files. A <em>stranger</em> is a connection whose TLS handshake has not (yet) shown an admitted
/// peer: still in the handshake, or a peer that is not a member (it may only call the join protocol).
/// </summary>
public sealed record ConnectionLimits
{
    /// <summary>
    /// Incoming connections open at once, of every kind. The node lowers it to what its descriptor limit
    /// (RLIMIT_NOFILE) leaves after <see cref="DescriptorReserve"/>, so connections alone never exhaust descriptors.
    /// </summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>
    /// TLS handshakes under way at once (at most a quarter of <see cref="MaxConnections"/>). Before its handshake
    /// nobody knows who is connecting, members included; each handshake is bounded by
    /// <see cref="TransportOptions.ConnectTimeout"/>.
    /// </summary>
    public int MaxHandshakes { get; init; } = 128;

    /// <summary>Connections of peers that are not admitted, from everywhere (at most a quarter of <see cref="MaxConnections"/>).</summary>
    public int MaxStrangerConnections { get; init; } = 256;

    /// <summary>
    /// Connections in their handshake or of peers that are not admitted, from one address (an IPv4 address, or an
    /// IPv6 /64). Beyond it the address's new connections are reset at accept, before any TLS work.
    /// </summary>
    public int MaxStrangerConnectionsPerAddress { get; init; } = 16;

    /// <summary>Time from the end of the TLS handshake to the first request (the HTTP/2 preface and one HEADERS frame).</summary>
    public TimeSpan FirstRequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A stranger connection with no request in flight is closed after this long.</summary>
    public TimeSpan StrangerIdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A stranger connection is closed after this long whatever it does: a join takes seconds, and a peer that is
    /// admitted on the connection stops being a stranger.
    /// </summary>
    public TimeSpan StrangerLifetime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A member's lean-path connection with no call for this long is closed (with a goaway; the caller dials again when it next calls).</summary>
    public TimeSpan LeanIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Descriptors kept out of <see cref="MaxConnections"/> for the node's own files, log and outgoing links.</summary>
    public int DescriptorReserve { get; init; } = 512;
}
