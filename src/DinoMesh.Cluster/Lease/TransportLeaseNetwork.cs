using System.Collections.Concurrent;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// The lease service on the mutual-TLS transport. Messages to one peer go through its own outbox: at most one call to
/// it at a time, carrying whatever queued up, so a slow peer delays only itself and a burst of appends costs one round
/// trip. A call starts on the thread that flushes the driver's round (no hop to a sender thread: on a commit that hop
/// was about a fifth of the commit), and the next one on the thread its predecessor's answer came back on. The call's
/// answer carries the peer's replies to what it carried (acknowledgements, votes), which go straight to this node's
/// driver: one call per replication round instead of one each way. The outbox is bounded; when full, the oldest
/// messages are dropped (the protocol repairs loss).
/// </summary>
public sealed class TransportLeaseNetwork : ILeaseNetwork, IAsyncDisposable
{
    private const int OutboxCapacity = 4096;
    private const int MaxBatch = 256;
    private const long MaxBatchBytes = 4 << 20;
    // A snapshot travels in pieces of at most a few MiB (LeaseConfig.SnapshotPieceBytes), so a call that carries some
    // needs no longer deadline than one with 1 MiB of entries.
    private static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(2);

    private static long SizeOf(LeaseMessage message) => message switch
    {
        Append a => 64 + (a.Entries?.Sum(e => 32L + e.Payload.Length) ?? 0),
        SnapshotPiece s => 64 + s.Data.Length,
        _ => 64,
    };

    private readonly PeerTransport _transport;
    private readonly Func<PeerId, string?> _addressOf;
    private readonly Action<PeerId, IReadOnlyList<LeaseMessage>> _answered;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<PeerId, Outbox> _outboxes = new();
    private readonly CancellationTokenSource _stopping = new();

    /// <param name="answered">Where a peer's answers to a call go (this node's driver).</param>
    public TransportLeaseNetwork(PeerTransport transport, Func<PeerId, string?> addressOf, Action<PeerId, IReadOnlyList<LeaseMessage>> answered, ILogger logger)
    {
        _transport = transport;
        _addressOf = addressOf;
        _answered = answered;
        _logger = logger;
    }

    public void Send(PeerId to, LeaseMessage message)
    {
        if (_stopping.IsCancellationRequested) return;
        _outboxes.GetOrAdd(to, peer => new Outbox(this, peer)).Enqueue(message);
    }

    public void Flush()
    {
        foreach (var outbox in _outboxes.Values) outbox.Start();
    }

    public async Task<ProposeResponse?> ProposeAsync(PeerId holder, byte[] mutation, TimeSpan deadline, CancellationToken ct)
    {
        if (_addressOf(holder) is not { } address || deadline <= TimeSpan.Zero) return null;
        // Idempotent: a proposal carries its op id, and the holder answers a repeat as Duplicate instead of applying it again.
        var result = await _transport.CallAsync(address, holder, LeaseProtocols.Propose, LeaseCodec.Encode(new ProposeRequest(mutation)), deadline, ct, idempotent: true, answerInline: true);
        if (!result.Ok)
        {
            _logger.LogDebug("lease: proposal to {Holder} failed: {Failure}", holder.Short, result);
            return null;
        }
        return Decode<ProposeResponse>(result.Value!, 4096);
    }

    public async Task<SyncResponse?> SyncAsync(PeerId holder, long version, TimeSpan deadline, CancellationToken ct)
    {
        if (_addressOf(holder) is not { } address || deadline <= TimeSpan.Zero) return null;
        var result = await _transport.CallAsync(address, holder, LeaseProtocols.Sync, LeaseCodec.Encode(new SyncRequest(version)), deadline, ct, idempotent: true);
        return result.Ok ? Decode<SyncResponse>(result.Value!, 4096) : null;
    }

    public async Task<ReadIndexResponse?> ReadIndexAsync(PeerId holder, TimeSpan deadline, CancellationToken ct)
    {
        if (_addressOf(holder) is not { } address || deadline <= TimeSpan.Zero) return null;
        var result = await _transport.CallAsync(address, holder, LeaseProtocols.ReadIndex, Array.Empty<byte>(), deadline, ct, idempotent: true);
        return result.Ok ? Decode<ReadIndexResponse>(result.Value!, 1024) : null;
    }

    /// <summary>
    /// A bare TCP connect to the peer's advertised address, closed at once (no TLS, nothing sent): refused means no
    /// socket listens there. The listener's own refusals (connection caps, descriptor shortage) accept and then reset,
    /// so they never look like this; only a missing listener or a firewall that answers for it does (docs/protocol.md,
    /// "Holder gone"). Deliberately not through the transport: a failed call there says nothing about why.
    /// </summary>
    public async Task<bool> NothingListensAsync(PeerId peer, TimeSpan deadline, CancellationToken ct)
    {
        if (_addressOf(peer) is not { } address || !Uri.TryCreate("tcp://" + address, UriKind.Absolute, out var uri) || uri.Port <= 0) return false;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(deadline);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(uri.IdnHost, uri.Port, timeout.Token);
            return false;
        }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionRefused)
        {
            return true;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            ct.ThrowIfCancellationRequested();
            return false;
        }
    }

    private void Answered(PeerId peer, byte[] answer)
    {
        var batch = Decode<LeaseBatch>(answer, LeaseProtocols.MaxLeaseBytes);
        if (batch?.Messages is { Length: > 0 } messages) _answered(peer, messages);
    }

    private T? Decode<T>(byte[] bytes, int max) where T : class
    {
        try
        {
            return LeaseCodec.Decode<T>(bytes, max);
        }
        catch (InvalidDataException e)
        {
            _logger.LogWarning("lease: malformed {Type} from a peer: {Error}", typeof(T).Name, e.Message);
            return null;
        }
    }

    /// <summary>
    /// The protocols this node serves: lease messages, proposals and sync requests for its driver (which exists only
    /// once the node has started; until then a caller is told "not the holder"). All but the sync run on the lean
    /// connection's reader (inline): they take the driver's lock, append to the log (syncing it only when a vote or an
    /// fsync asks for it) and answer; a lease call's apply of what it committed follows its answer on that thread;
    /// cache invalidations go to their own task.
    /// </summary>
    public static void Register(PeerTransport transport, Func<LeaseDriver?> driver, ILogger logger)
    {
        // The answer leaves before the round's apply (LeaseDriver.ReceiveAndAnswer with afterAnswer): on a follower the
        // acknowledgement is on the commit's path, the apply of what the append's notice committed is not.
        transport.RegisterAnswerThen(LeaseProtocols.Lease, LeaseProtocols.MaxLeaseBytes, (peer, body, ct) =>
        {
            var batch = LeaseCodec.Decode<LeaseBatch>(body, LeaseProtocols.MaxLeaseBytes);
            if (driver() is not { } lease) return new AnswerThen([]);
            var answers = lease.ReceiveAndAnswer(peer.Peer, batch.Messages ?? [], out var afterAnswer);
            return new AnswerThen(answers.Count == 0 ? [] : LeaseCodec.Encode(new LeaseBatch([.. answers])), afterAnswer);
        });
        transport.RegisterUnary(LeaseProtocols.Propose, LeaseProtocols.MaxProposeBytes, (peer, body, ct) =>
        {
            var request = LeaseCodec.Decode<ProposeRequest>(body, LeaseProtocols.MaxProposeBytes);
            if (driver() is not { } lease) return ValueTask.FromResult(LeaseCodec.Encode(new ProposeResponse(ProposeOutcome.NotHolder, 0, 0, default)));
            var mutation = Core.Wire.MutationCodec.Decode(request.Mutation);
            if (mutation.Op is null)
            {
                // The op id is what makes a proposal that arrives twice (a call re-sent after its connection broke) apply once.
                throw new PeerCallException(CallFailure.BadRequest, "a proposal from a peer must carry an op id");
            }
            if (mutation.Proposer != peer.Peer)
            {
                // A member proposes in its own name only: the proposer decides whom readers ask for its chunks.
                throw new PeerCallException(CallFailure.BadRequest, $"a mutation proposed by {peer.Peer.Short} names {mutation.Proposer.Short}");
            }
            return ValueTask.FromResult(LeaseCodec.Encode(lease.Propose(mutation, request.Mutation)));
        }, inline: true);
        transport.RegisterUnary(LeaseProtocols.Sync, 1024, async (peer, body, ct) =>
        {
            var request = LeaseCodec.Decode<SyncRequest>(body, 1024);
            if (driver() is not { } lease || lease.SyncOnHolder(request.Version) is not { } sync)
            {
                return LeaseCodec.Encode(new SyncResponse((int)Core.Metadata.FsError.Stale, driver()?.Status.Holder ?? default));
            }
            var error = await sync.WaitAsync(ct);
            return LeaseCodec.Encode(new SyncResponse((int)error, lease.Self));
        });
        transport.RegisterUnary(LeaseProtocols.ReadIndex, 64, (peer, body, ct) =>
        {
            var lease = driver();
            var commit = lease?.ReadIndexOnHolder(peer.Peer) ?? -1;
            return ValueTask.FromResult(LeaseCodec.Encode(new ReadIndexResponse(commit, lease?.Status.Holder ?? default)));
        }, inline: true);
        logger.LogDebug("lease: protocols registered");
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_outboxes.Values.Select(o => o.Sender));
        _stopping.Dispose();
    }

    /// <summary>
    /// What waits to go to one peer, and at most one call to it under way. Whoever finds the outbox idle sends (the
    /// driver's thread at <see cref="Flush"/>); the call's answer comes back on the transport's thread, which then takes
    /// what queued meanwhile in one call, and so on until the queue is empty.
    /// </summary>
    private sealed class Outbox(TransportLeaseNetwork network, PeerId peer)
    {
        private readonly ConcurrentQueue<LeaseMessage> _queue = new();
        private readonly List<LeaseMessage> _batch = new(MaxBatch); // the sender's only
        private int _count;
        private int _sending;
        private Task _sender = Task.CompletedTask;

        /// <summary>The loop under way (or the last one), for a clean stop.</summary>
        public Task Sender => Volatile.Read(ref _sender);

        public void Enqueue(LeaseMessage message)
        {
            _queue.Enqueue(message);
            // Bounded: the oldest goes (the protocol repairs loss).
            if (Interlocked.Increment(ref _count) > OutboxCapacity && _queue.TryDequeue(out _)) Interlocked.Decrement(ref _count);
        }

        /// <summary>Sends what is queued unless a call to this peer is under way (its sender takes it afterwards).</summary>
        public void Start()
        {
            if (_queue.IsEmpty || network._stopping.IsCancellationRequested || Interlocked.CompareExchange(ref _sending, 1, 0) != 0) return;
            Volatile.Write(ref _sender, SendLoopAsync());
        }

        private async Task SendLoopAsync()
        {
            while (true)
            {
                try
                {
                    while (!network._stopping.IsCancellationRequested && TakeBatch())
                    {
                        if (network._addressOf(peer) is not { } address) continue;
                        // One call at a time per peer, so a call that hangs holds back everything behind it: short, so a stuck
                        // connection costs about one election timeout, not many.
                        // Idempotent: Raft messages may arrive twice (a repeated append or vote is answered as the first was).
                        var result = await network._transport.CallAsync(address, peer, LeaseProtocols.Lease, LeaseCodec.Encode(new LeaseBatch([.. _batch])),
                            CallDeadline, network._stopping.Token, idempotent: true, answerInline: true);
                        if (!result.Ok)
                        {
                            network._logger.LogDebug("lease: {Count} messages to {Peer} lost: {Failure}", _batch.Count, peer.Short, result);
                            continue;
                        }
                        if (result.Value is { Length: > 0 } answer) network.Answered(peer, answer);
                    }
                }
                catch (OperationCanceledException)
                {
                    // Stopping.
                }
                catch (Exception e)
                {
                    network._logger.LogWarning("lease: sending to {Peer} failed: {Error}", peer.Short, e.Message);
                }
                Volatile.Write(ref _sending, 0);
                // A message queued after the last look but before the flag dropped found the outbox busy: take it now.
                if (_queue.IsEmpty || network._stopping.IsCancellationRequested || Interlocked.CompareExchange(ref _sending, 1, 0) != 0) return;
            }
        }

        /// <summary>What queued up, for one call: within a size that a follower handles well inside the deadline.</summary>
        private bool TakeBatch()
        {
            _batch.Clear();
            long bytes = 0;
            while (_batch.Count < MaxBatch && bytes < MaxBatchBytes && _queue.TryPeek(out var next))
            {
                var size = SizeOf(next);
                if (_batch.Count > 0 && bytes + size > MaxBatchBytes) break;
                if (!_queue.TryDequeue(out next)) break;
                Interlocked.Decrement(ref _count);
                _batch.Add(next);
                bytes += size;
            }
            return _batch.Count > 0;
        }
    }
}
