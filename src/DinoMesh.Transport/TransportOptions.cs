using System.Net;

namespace DinoMesh.Transport;

/// <summary>Settings of a <see cref="PeerTransport"/>.</summary>
public sealed record TransportOptions
{
    /// <summary>Where to accept peer connections (TLS only). Port 0 picks a free port; see <see cref="PeerTransport.ListenEndPoint"/>.</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Any, 7946);

    /// <summary>host:port other peers should dial; defaults to the bound listen address.</summary>
    public string? Advertise { get; init; }

    /// <summary>Bound on TCP connect plus TLS handshake, for outgoing and incoming connections.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Deadline of a call that does not give one.</summary>
    public TimeSpan DefaultDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Use HTTP/3 over QUIC where the platform supports it (libmsquic present) and nodes serve it; HTTP/2 over TLS 1.3
    /// otherwise. No node serves HTTP/3 yet (see <c>PeerServer.QuicEnabled</c>), so today every link is HTTP/2 or lean.
    /// </summary>
    public bool EnableQuic { get; init; } = true;

    /// <summary>
    /// Serve the bulk path (unary calls over a TLS connection of their own, chosen by ALPN on the same port). Off only
    /// to test the fallback: a caller whose peer does not offer it uses HTTP/2.
    /// </summary>
    public bool ServeBulk { get; init; } = true;

    /// <summary>
    /// Take bulk connections at accept, past Kestrel (see <c>DirectConnections</c>). Off only in tests, to serve them as
    /// a node before this change did (through Kestrel), which is also the path for a ClientHello the listener cannot read.
    /// </summary>
    internal bool TakeBulkAtAccept { get; init; } = true;

    /// <summary>
    /// Take lean connections at accept, past Kestrel (see <c>DirectConnections</c>). Off only in tests, to serve them as
    /// a node before this change did (through Kestrel), which is also the path for a ClientHello the listener cannot read.
    /// </summary>
    internal bool TakeLeanAtAccept { get; init; } = true;

    /// <summary>
    /// Serve the lean path (small unary calls multiplexed over one TLS connection per peer, chosen by ALPN on the same
    /// port). Off only to test the fallback: a caller whose peer does not offer it uses HTTP/2.
    /// </summary>
    public bool ServeLean { get; init; } = true;

    /// <summary>
    /// Send small unary calls (<see cref="PeerTransport.CallAsync"/>) over the lean path where the peer serves it. Off
    /// only to measure HTTP/2 against it.
    /// </summary>
    public bool CallLean { get; init; } = true;

    /// <summary>
    /// Lean connections (incoming and outgoing together) that may each be read by a thread of their own with blocking
    /// receives, past the runtime's epoll thread (see <c>DedicatedReaders</c>); the rest are read asynchronously. 0 reads
    /// every one asynchronously. One lean connection per peer and direction carries the lease and SWIM, so a node of a
    /// cluster of up to 16 nodes reads all of its own.
    /// </summary>
    public int DedicatedLeanReaders { get; init; } = 32;

    /// <summary>
    /// Idle bulk connections kept per peer for reuse (each carries one call at a time). A sequential read of remote
    /// chunks has up to ~12 fetches in flight to one peer (8 chunks of read-ahead and the READs waiting on theirs);
    /// with fewer kept, those beyond were closed after their call and dialled again on the next, a TLS handshake each.
    /// </summary>
    public int BulkConnectionsPerPeer { get; init; } = 16;

    /// <summary>
    /// Idle time after which the client pings a connection and the timeout after which it is dropped, so a dead
    /// peer is noticed by the connection pool even when no call is in flight.
    /// </summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>See <see cref="KeepAlivePingDelay"/>.</summary>
    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Silence after which a post on a lean connection takes a ping along (<see cref="Client.LeanConnection.DefaultPostLivenessInterval"/>,
    /// 20 s; the node never changes it): the test of a peer gone silent sets it shorter rather than wait 20 s.
    /// </summary>
    public TimeSpan PostLivenessInterval { get; init; } = Client.LeanConnection.DefaultPostLivenessInterval;

    /// <summary>Largest response message a unary call accepts unless the call says otherwise.</summary>
    public int DefaultMaxResponseBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Caps and deadlines for incoming connections (strangers especially).</summary>
    public ConnectionLimits Limits { get; init; } = new();

    /// <summary>
    /// Refusals (of connections, requests, joins) are logged at once the first time for each kind and source, then
    /// counted, and one summary line per kind and source is written at most this often while they go on.
    /// </summary>
    public TimeSpan RefusalLogInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The clock the refusal log's summary interval runs on (tests move a fake one instead of waiting).</summary>
    public TimeProvider RefusalLogTime { get; init; } = TimeProvider.System;
}
