using System.Collections.Concurrent;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Fetches chunks this node lacks from the peers that should have them, in this order: the node that proposed the
/// commit that introduced the chunk, the chunk's placement nodes, peers seen holding it, then every other live member.
/// Among the first two a peer already serving <see cref="ChunkOptions.MaxFetchesPerPeer"/> fetches goes after one that
/// is not, so a large read spreads over the holders. Every answer is verified against the id before it is believed: a
/// peer that serves other bytes is logged, asked last for <see cref="ChunkOptions.BadPeerPenalty"/>, and the fetch goes
/// on to the next peer.
/// </summary>
public sealed class ChunkFetcher : IChunkSource
{
    private readonly IChunkNetwork _network;
    private readonly IChunkCluster _cluster;
    private readonly ChunkLocations _locations;
    private readonly ChunkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentDictionary<PeerId, int> _busy = new();
    private readonly ConcurrentDictionary<PeerId, DateTimeOffset> _bad = new();
    private long _fetched, _fetchedBytes, _badAnswers;

    public ChunkFetcher(IChunkNetwork network, IChunkCluster cluster, ChunkLocations locations, ChunkOptions options, TimeProvider time, ILogger logger)
    {
        _network = network;
        _cluster = cluster;
        _locations = locations;
        _options = options;
        _time = time;
        _logger = logger;
        _slots = new SemaphoreSlim(options.MaxFetches);
    }

    /// <summary>Chunks fetched, their bytes, and answers that failed verification, since start.</summary>
    public (long Fetched, long Bytes, long BadAnswers) Counters =>
        (Interlocked.Read(ref _fetched), Interlocked.Read(ref _fetchedBytes), Interlocked.Read(ref _badAnswers));

    /// <summary>True while <paramref name="peer"/> is avoided for serving bad bytes.</summary>
    public bool IsAvoided(PeerId peer) => _bad.TryGetValue(peer, out var until) && until > _time.GetUtcNow();

    public async ValueTask<ChunkFetch> FetchAsync(ChunkId id, CancellationToken cancellationToken)
    {
        var candidates = Candidates(id);
        if (candidates.Count == 0) return ChunkFetch.Failed(ChunkFetchStatus.Unavailable, "no live peer to ask");
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var unreachable = 0;
            var failures = new List<string>();
            foreach (var peer in candidates)
            {
                cancellationToken.ThrowIfCancellationRequested();
                _busy.AddOrUpdate(peer.Id, 1, static (_, n) => n + 1);
                ChunkCall call;
                try
                {
                    call = await _network.CallAsync(peer, new GetChunk(id), _options.TransferDeadline, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _busy.AddOrUpdate(peer.Id, 0, static (_, n) => Math.Max(0, n - 1));
                }
                // The answer's buffer (if pooled) goes with a verified chunk to the caller; every other answer gives
                // it back before the next peer is asked. A corrupt answer's bytes were only hashed, never handed on.
                switch (call.Answer)
                {
                    case ChunkFound found when VerifiedChunk.TryVerify(id, found.Bytes, out var chunk):
                        _locations.Holds(id, peer.Id);
                        Interlocked.Increment(ref _fetched);
                        Interlocked.Add(ref _fetchedBytes, chunk.Value.Length);
                        return ChunkFetch.Found(chunk.Value, call.Lease);
                    case ChunkFound found:
                        call.Lease?.Release();
                        Interlocked.Increment(ref _badAnswers);
                        _bad[peer.Id] = _time.GetUtcNow() + _options.BadPeerPenalty;
                        _locations.DoesNotHold(id, peer.Id);
                        _logger.LogWarning("peer {Peer} served {Length} bytes for chunk {Chunk} that do not hash to it; avoiding it for {Minutes} min and asking the next holder",
                            peer, found.Bytes.Length, id, _options.BadPeerPenalty.TotalMinutes);
                        failures.Add($"{peer.Id}: bad bytes");
                        break;
                    case ChunkMissing:
                        _locations.DoesNotHold(id, peer.Id);
                        failures.Add($"{peer.Id}: missing");
                        break;
                    case null:
                        unreachable++;
                        failures.Add($"{peer.Id}: {call.Failure}");
                        break;
                    default:
                        failures.Add($"{peer.Id}: unexpected {call.Answer.GetType().Name}");
                        break;
                }
            }
            var status = unreachable == candidates.Count ? ChunkFetchStatus.Unavailable : ChunkFetchStatus.NotFound;
            return ChunkFetch.Failed(status, $"asked {candidates.Count} peers: {string.Join("; ", failures)}");
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>The peers to ask, in order (see the class summary); never this node.</summary>
    public IReadOnlyList<ChunkPeer> Candidates(ChunkId id)
    {
        var live = _cluster.Live();
        var self = _cluster.Self;
        var byId = live.ToDictionary(p => p.Id);
        var first = new List<ChunkPeer>();
        var rest = new List<ChunkPeer>();
        var seen = new HashSet<PeerId> { self };

        if (byId.TryGetValue(_locations.ProposerOf(id), out var proposer) && seen.Add(proposer.Id)) first.Add(proposer);
        foreach (var p in ChunkPlacement.For(id, live, ChunkPlacement.Effective(_options.Replicas, live.Count)))
        {
            if (seen.Add(p.Id)) first.Add(p);
        }
        foreach (var holder in _locations.HoldersOf(id))
        {
            if (byId.TryGetValue(holder, out var p) && seen.Add(p.Id)) rest.Add(p);
        }
        foreach (var p in ChunkPlacement.Ranked(id, live))
        {
            if (seen.Add(p.Id)) rest.Add(p);
        }
        // Stable: busy peers of the first group after idle ones, and avoided peers after everyone else.
        var ordered = first.OrderBy(p => Busy(p.Id) >= _options.MaxFetchesPerPeer).Concat(rest).ToList();
        return [.. ordered.OrderBy(p => IsAvoided(p.Id))];
    }

    private int Busy(PeerId peer) => _busy.GetValueOrDefault(peer);
}
