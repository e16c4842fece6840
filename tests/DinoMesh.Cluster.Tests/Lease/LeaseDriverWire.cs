using System.Collections.Concurrent;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// Delivers every message on a thread of its own, as a call would, and feeds the answer back to the sender; counts
/// acknowledgements by the way they travelled.
/// </summary>
internal sealed class LeaseDriverWire
{
    private int _answered, _queued, _pieces;

    /// <summary>Snapshot pieces delivered.</summary>
    public int Pieces => Volatile.Read(ref _pieces);

    public ConcurrentDictionary<PeerId, LeaseDriver> Drivers { get; } = new();

    public int AnsweredAcknowledgements => Volatile.Read(ref _answered);

    public int QueuedAcknowledgements => Volatile.Read(ref _queued);

    public ILeaseNetwork From(PeerId self) => new Endpoint(this, self);

    private void Deliver(PeerId from, PeerId to, LeaseMessage message)
    {
        if (message is AppendResponse) Interlocked.Increment(ref _queued);
        if (message is SnapshotPiece) Interlocked.Increment(ref _pieces);
        _ = Task.Run(() =>
        {
            if (!Drivers.TryGetValue(to, out var receiver) || !Drivers.TryGetValue(from, out var sender)) return;
            var answers = receiver.ReceiveAndAnswer(from, [message]);
            Interlocked.Add(ref _answered, answers.Count(a => a is AppendResponse));
            if (answers.Count > 0) sender.Receive(to, answers);
        });
    }

    private sealed class Endpoint(LeaseDriverWire wire, PeerId self) : ILeaseNetwork
    {
        public void Send(PeerId to, LeaseMessage message) => wire.Deliver(self, to, message);

        public Task<ProposeResponse?> ProposeAsync(PeerId holder, byte[] mutation, TimeSpan deadline, CancellationToken ct) =>
            Task.FromResult<ProposeResponse?>(null);

        public Task<SyncResponse?> SyncAsync(PeerId holder, long version, TimeSpan deadline, CancellationToken ct) =>
            Task.FromResult<SyncResponse?>(null);

        public Task<ReadIndexResponse?> ReadIndexAsync(PeerId holder, TimeSpan deadline, CancellationToken ct) =>
            Task.FromResult<ReadIndexResponse?>(null);
    }
}
