using System.Collections.Concurrent;
using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Puts a new chunk on R nodes before the commit that introduces it is proposed. Pushing starts as soon as a writer
/// stores the chunk (<see cref="Offer"/>), so a streaming write replicates while it goes on; the commit then waits only
/// for what is still in flight (<see cref="ReplicateAsync"/>). The writer's own copy is one of the R: the chunk is
/// pushed to the first R - 1 members of its rendezvous ranking other than this node (with R = 2, one push: to its first
/// placement node, or to its second when this node is the first). Where this node is not a placement node, its copy
/// stands in for the placement node left out until that node pulls the chunk (<see cref="ChunkRepairer"/>); until then
/// the cache keeps it, since it evicts only what every placement node holds. A target that cannot take the chunk
/// (unreachable, disk full) is replaced by the next member in the ranking. Peers that took chunks are asked to sync them
/// on the next fsync.
/// </summary>
public sealed class ChunkReplicator
{
    private readonly IChunkNetwork _network;
    private readonly IChunkCluster _cluster;
    private readonly ILocalChunks _store;
    private readonly ChunkLocations _locations;
    private readonly ChunkOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ChunkId, Task<bool>> _pushes = new();
    private readonly ConcurrentDictionary<PeerId, ChunkPeer> _unsynced = new();
    private readonly ConfirmedCopies _confirmed;
    private readonly SemaphoreSlim _slots;
    private long _pendingBytes, _pushed, _pushedBytes;

    public ChunkReplicator(IChunkNetwork network, IChunkCluster cluster, ILocalChunks store, ChunkLocations locations, ChunkOptions options, ILogger logger)
    {
        _network = network;
        _cluster = cluster;
        _store = store;
        _locations = locations;
        _options = options;
        _logger = logger;
        _slots = new SemaphoreSlim(options.MaxPushes);
        // Well inside the grace period for which a peer keeps a chunk pushed to it even while nothing references it.
        _confirmed = new ConfirmedCopies(TimeSpan.FromTicks(Math.Min(options.GcGrace.Ticks / 2, TimeSpan.FromMinutes(5).Ticks)));
    }

    /// <summary>Copies sent to peers and their bytes, since start.</summary>
    public (long Pushed, long Bytes) Counters => (Interlocked.Read(ref _pushed), Interlocked.Read(ref _pushedBytes));

    /// <summary>Pushes in flight.</summary>
    public int InFlight => _pushes.Count;

    /// <summary>
    /// A writer stored a chunk: start pushing it now. Lent bytes (<paramref name="lendable"/>, room for the put's
    /// envelope in front) are kept as they lie until the push ended; others are copied into a pooled array. Either way
    /// within a memory bound; past it the push reads them back from the store. Does nothing when this node's copy alone
    /// makes up R.
    /// </summary>
    public void Offer(ChunkId id, ReadOnlySpan<byte> bytes, LendableBytes? lendable = null)
    {
        if (!NeedsPeers() || _pushes.ContainsKey(id)) return;
        PendingBytes? copy = null;
        if (Interlocked.Add(ref _pendingBytes, bytes.Length) <= _options.MaxPendingPushBytes)
        {
            copy = Borrow(id, lendable, bytes.Length) ?? Copy(id, bytes);
        }
        else
        {
            Interlocked.Add(ref _pendingBytes, -bytes.Length);
        }
        var started = Start(id, copy);
        if (copy is not null && !ReferenceEquals(started.Bytes, copy)) Release(copy);
    }

    /// <summary>
    /// The writer's own array, the put's envelope written into the room in front of the chunk: every push of it sends
    /// that stretch as it lies (<see cref="ChunkCodec.TryEncoded(PutChunk, out ReadOnlyMemory{byte})"/>), no copy.
    /// </summary>
    private static PendingBytes? Borrow(ChunkId id, LendableBytes? lendable, int length)
    {
        if (lendable is not { } lent || lent.Length != length || lent.Offset < ChunkCodec.PutEnvelope(length)) return null;
        lent.Owner.Retain();
        return new PendingBytes(lent.Owner, ChunkCodec.LayOutPutEnvelope(id, lent.Owner.Array, lent.Offset, length).Bytes);
    }

    /// <summary>Copied once, straight into the put message every push of it sends (no second copy to encode it).</summary>
    private static PendingBytes Copy(ChunkId id, ReadOnlySpan<byte> bytes)
    {
        var copy = SharedArray.Rent(ChunkCodec.PutEnvelope(bytes.Length) + bytes.Length);
        return new PendingBytes(copy, ChunkCodec.LayOutPut(id, bytes, copy.Array).Bytes);
    }

    /// <summary>
    /// A chunk's bytes waiting to be pushed, laid out behind the envelope of its put in <paramref name="Owner"/>, of
    /// which the push holds one reference: an array copied for the push (the only reference), or the writer's array
    /// lent to it (the writer holds its own until its block is gone). Either way the push gives up exactly its own.
    /// </summary>
    private sealed record PendingBytes(SharedArray Owner, ReadOnlyMemory<byte> Memory)
    {
        public int Length => Memory.Length;
    }

    private void Release(PendingBytes bytes)
    {
        Interlocked.Add(ref _pendingBytes, -bytes.Length);
        bytes.Owner.Release();
    }

    /// <summary>
    /// Waits until each chunk has its R copies (starting the pushes not started yet). False when some chunk could not
    /// reach them within <see cref="ChunkOptions.ReplicationTimeout"/>: the commit must then not be acknowledged.
    /// </summary>
    public async ValueTask<bool> ReplicateAsync(IReadOnlyCollection<ChunkId> chunks, CancellationToken ct)
    {
        var waits = new List<Task<bool>>(chunks.Count);
        foreach (var id in chunks)
        {
            // A chunk whose push already ended has its copies on record: only a shortfall (a copy's holder died since,
            // placement moved) is pushed again, and a chunk with enough copies costs no call at all.
            if (NeedsPeers() && !HasCopies(id, _confirmed.Of(id))) waits.Add(Start(id, null).Task);
        }
        if (waits.Count == 0) return true;
        var results = await Task.WhenAll(waits).WaitAsync(ct).ConfigureAwait(false);
        return results.All(ok => ok);
    }

    /// <summary>
    /// fsync: every peer that took chunks from this node since the last sync makes them durable. A peer that is no
    /// longer live is skipped (repair copies its chunks elsewhere); false when a live one fails.
    /// </summary>
    public async ValueTask<bool> SyncPeersAsync(CancellationToken ct)
    {
        var peers = _unsynced.Values.ToList();
        if (peers.Count == 0) return true;
        foreach (var p in peers) _unsynced.TryRemove(p.Id, out _);
        var live = _cluster.Live().Select(p => p.Id).ToHashSet();
        var calls = peers.Where(p => live.Contains(p.Id)).Select(async p =>
        {
            var call = await _network.CallAsync(p, new SyncChunks(), _options.SyncDeadline, ct).ConfigureAwait(false);
            if (call.Answer is SyncAnswer { Ok: true }) return true;
            _logger.LogWarning("chunk sync on {Peer} failed: {Failure}", p, call.Answer is SyncAnswer ? "writeback error there" : call.Failure);
            _unsynced.TryAdd(p.Id, p);
            return false;
        });
        var results = await Task.WhenAll(calls).ConfigureAwait(false);
        return results.All(ok => ok);
    }

    /// <summary>Whether the copies on record, with this node's own, make up R among the live members.</summary>
    private bool HasCopies(ChunkId id, HashSet<PeerId> confirmed)
    {
        if (confirmed.Count == 0) return false;
        var live = _cluster.Live();
        var replicas = ChunkPlacement.Effective(_options.Replicas, live.Count);
        return CopiesAmong(ChunkPlacement.Ranked(id, live), confirmed) >= replicas;
    }

    /// <summary>
    /// This node's copy always counts (a writer stored the chunk here, and neither collection nor the cache deletes it
    /// while a placement node lacks it); a peer's counts only while the peer is live.
    /// </summary>
    private static int CopiesAmong(IReadOnlyList<ChunkPeer> ranked, HashSet<PeerId> confirmed) =>
        1 + confirmed.Count(c => ranked.Any(p => p.Id == c));

    /// <summary>Only when R is more than this node's own copy (one live member, or R = 1: nothing to push).</summary>
    private bool NeedsPeers() => ChunkPlacement.Effective(_options.Replicas, _cluster.Live().Count) > 1;

    private sealed record Push(Task<bool> Task, PendingBytes? Bytes);

    private Push Start(ChunkId id, PendingBytes? bytes)
    {
        var created = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = _pushes.GetOrAdd(id, created.Task);
        if (!ReferenceEquals(task, created.Task)) return new Push(task, null);
        _ = RunAsync(id, bytes, created);
        return new Push(task, bytes);
    }

    private async Task RunAsync(ChunkId id, PendingBytes? bytes, TaskCompletionSource<bool> done)
    {
        var ok = false;
        try
        {
            var confirmed = _confirmed.Of(id);
            ok = await PushAsync(id, bytes?.Memory, confirmed).ConfigureAwait(false);
            if (ok) _confirmed.Record(id, confirmed);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "replicating chunk {Chunk} failed", id);
        }
        finally
        {
            // Every put of these bytes has ended (a call returns only once its send is done with them: TLS encrypts out of
            // them before it sends), so the array can go back, or the writer's reference be given up.
            if (bytes is not null) Release(bytes);
            _pushes.TryRemove(id, out _);
            done.TrySetResult(ok);
        }
    }

    /// <summary>
    /// Pushes until R copies are confirmed, re-reading the live members after each round (a dead placement node is
    /// replaced). <paramref name="confirmed"/> starts with the copies already on record and ends with all of them.
    /// </summary>
    private async Task<bool> PushAsync(ChunkId id, ReadOnlyMemory<byte>? bytes, HashSet<PeerId> confirmed)
    {
        using var deadline = new CancellationTokenSource(_options.ReplicationTimeout);
        var refused = new HashSet<PeerId>();
        for (var round = 0; ; round++)
        {
            var live = _cluster.Live();
            var replicas = ChunkPlacement.Effective(_options.Replicas, live.Count);
            var ranked = ChunkPlacement.Ranked(id, live);
            var have = CopiesAmong(ranked, confirmed);
            if (have >= replicas) return true;
            // The ranking in order, this node left out: its first R - 1 others, then the next for any that refused.
            foreach (var target in ranked)
            {
                if (have >= replicas) break;
                if (target.Id == _cluster.Self || confirmed.Contains(target.Id) || refused.Contains(target.Id)) continue;
                if (bytes is null)
                {
                    // byte[] converts to a memory even when null (an empty one): test the array, not the conversion.
                    if (ReadBack(id) is not { } readBack) return false;
                    bytes = readBack;
                }
                if (await PutAsync(target, id, bytes.Value, deadline.Token).ConfigureAwait(false))
                {
                    confirmed.Add(target.Id);
                    have++;
                }
                else
                {
                    refused.Add(target.Id);
                }
            }
            if (have >= replicas) return true;
            if (deadline.IsCancellationRequested)
            {
                _logger.LogError("chunk {Chunk} reached {Have} of {Replicas} copies within {Timeout}", id, have, replicas, _options.ReplicationTimeout);
                return false;
            }
            // Everyone refused this round: try them all again after a pause (a node may be declared dead meanwhile).
            refused.Clear();
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 << Math.Min(round, 5))), deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The next round reports the shortfall.
            }
        }
    }

    private async Task<bool> PutAsync(ChunkPeer target, ChunkId id, ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        ChunkCall call;
        try
        {
            // The ranking was read before the wait for a slot, which lasts as long as the pushes ahead (up to their
            // deadline when their target hangs): a target declared dead meanwhile is not sent to, the next round ranks anew.
            if (!IsLive(target.Id))
            {
                _logger.LogDebug("chunk {Chunk} not pushed to {Peer}: no longer a live member", id, target);
                return false;
            }
            using var callOff = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var put = _network.CallAsync(target, new PutChunk(id, bytes), _options.TransferDeadline, callOff.Token);
            await GiveUpOnceGoneAsync(put, target, callOff).ConfigureAwait(false);
            call = await put.ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
        if (call.Answer is PutAnswer { Held: true })
        {
            _locations.Holds(id, target.Id);
            _unsynced.TryAdd(target.Id, target);
            Interlocked.Increment(ref _pushed);
            Interlocked.Add(ref _pushedBytes, bytes.Length);
            return true;
        }
        _logger.LogWarning("peer {Peer} did not take chunk {Chunk}: {Answer}", target, id, call.Answer is PutAnswer answer ? answer.Outcome.ToString() : call.Failure);
        return false;
    }

    /// <summary>
    /// Waits for <paramref name="put"/>, and calls it off once its target is no longer a live member (SWIM declared it
    /// dead, or it left): a copy there would not count (<see cref="HasCopies"/> counts live holders only), and a hung
    /// peer answers nothing until the put's deadline. Most puts end before the first check.
    /// </summary>
    private async Task GiveUpOnceGoneAsync(Task<ChunkCall> put, ChunkPeer target, CancellationTokenSource callOff)
    {
        while (!put.IsCompleted)
        {
            await ((Task)put).WaitAsync(_options.PushLivenessCheck).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (put.IsCompleted || IsLive(target.Id)) continue;
            _logger.LogInformation("push of a chunk to {Peer} called off: it is no longer a live member", target);
            callOff.Cancel();
            return;
        }
    }

    private bool IsLive(PeerId peer)
    {
        foreach (var p in _cluster.Live())
        {
            if (p.Id == peer) return true;
        }
        return false;
    }

    private byte[]? ReadBack(ChunkId id)
    {
        var (status, bytes) = _store.Read(id);
        if (status == LocalRead.Ok) return bytes;
        _logger.LogError("chunk {Chunk} to replicate is not readable here: {Status}", id, status);
        return null;
    }
}
