using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// How the lease driver reaches other members: fire-and-forget lease messages (the protocol tolerates loss and
/// reordering) and two calls to the holder. The node uses the mutual-TLS transport; tests use an in-memory network.
/// </summary>
public interface ILeaseNetwork
{
    /// <summary>
    /// Queues <paramref name="message"/> for <paramref name="to"/>; never blocks, may drop. It leaves at the next
    /// <see cref="Flush"/> (or with a call to that peer already under way).
    /// </summary>
    void Send(PeerId to, LeaseMessage message);

    /// <summary>
    /// Starts sending what <see cref="Send"/> queued, on the calling thread where a peer has no call under way. The
    /// driver calls it after every round, outside its lock: the round's appends leave from the thread that made them
    /// (a proposer's, or the one that handled an answer) instead of waking a sender thread for each peer.
    /// </summary>
    void Flush()
    {
    }

    /// <summary>Hands an encoded mutation to <paramref name="holder"/>; null when it could not be reached in time.</summary>
    Task<ProposeResponse?> ProposeAsync(PeerId holder, byte[] mutation, TimeSpan deadline, CancellationToken ct);

    /// <summary>Asks <paramref name="holder"/> to make the log durable on a majority up to <paramref name="version"/>.</summary>
    Task<SyncResponse?> SyncAsync(PeerId holder, long version, TimeSpan deadline, CancellationToken ct);

    /// <summary>Asks <paramref name="holder"/> for its commit version; null when it could not be reached in time.</summary>
    Task<ReadIndexResponse?> ReadIndexAsync(PeerId holder, TimeSpan deadline, CancellationToken ct);

    /// <summary>
    /// True only when a connect to <paramref name="peer"/>'s address was refused within <paramref name="deadline"/>:
    /// nothing listens there, so the process that was there is gone. A connection made, a timeout, an unknown address
    /// or any other error is false (no evidence). A network that cannot tell always answers false.
    /// </summary>
    Task<bool> NothingListensAsync(PeerId peer, TimeSpan deadline, CancellationToken ct) => Task.FromResult(false);
}
