namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Calls the chunk protocol on a peer. The node's implementation runs over the peer transport (mutual TLS, HTTP/2
/// streams, <c>/dinomesh/chunk/1</c>); tests connect in-process servers with an in-memory one. Never throws for peer or
/// network failures: they come back as a failed <see cref="ChunkCall"/>.
/// </summary>
public interface IChunkNetwork
{
    Task<ChunkCall> CallAsync(ChunkPeer peer, ChunkRequest request, TimeSpan deadline, CancellationToken cancellationToken);
}

/// <summary>
/// The answer of a call, or why there is none (unreachable, timeout, undecodable answer…). When the answer's bytes lie
/// in a pooled buffer (a found chunk received by a network that pools them), <paramref name="Lease"/> is that buffer and
/// its one reference is the caller's: release it once done with the answer (see <see cref="Core.Buffers.BufferPool"/>).
/// </summary>
public readonly record struct ChunkCall(ChunkAnswer? Answer, string Failure = "", Core.Buffers.PooledBuffer? Lease = null)
{
    public bool Ok => Answer is not null;

    public static ChunkCall Failed(string failure) => new(null, failure);

    public override string ToString() => Ok ? Answer!.GetType().Name : Failure;
}
