using DinoMesh.Fuse.Protocol;

namespace DinoMesh.Fuse.Session;

/// <summary>
/// One request read from the device. <see cref="Args"/> points into the read buffer, which the request owns until
/// its handler completes; the reader thread takes a fresh buffer when a handler goes asynchronous.
/// </summary>
internal sealed class FuseRequest(FuseInHeader header, ReadOnlyMemory<byte> args, CancellationToken cancellation)
{
    public FuseInHeader Header { get; } = header;

    /// <summary>When the request was taken up (a Stopwatch timestamp), for its latency metric.</summary>
    public long Started { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>The operation's arguments: after the header, without extensions.</summary>
    public ReadOnlyMemory<byte> Args { get; } = args;

    public FuseOpcode Opcode => (FuseOpcode)Header.Opcode;

    public ulong Unique => Header.Unique;

    public ulong NodeId => Header.NodeId;

    /// <summary>Set once a reply has been written, so a failure after the reply cannot answer twice.</summary>
    public bool Replied { get; set; }

    public FuseContext Context => new(Header.Uid, Header.Gid, Header.Pid, Header.Unique, cancellation);

    public CancellationToken Cancellation => cancellation;

    /// <summary>The source behind <see cref="Cancellation"/>, registered for INTERRUPT while the request runs.</summary>
    public CancellationTokenSource? Source { get; init; }
}
