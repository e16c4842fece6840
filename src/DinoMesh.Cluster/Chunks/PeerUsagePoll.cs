using DinoMesh.Core.Identity;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// What each member stores (for `dino-node peers` and the status page), asked only when someone looks. Polled on a
/// clock instead, every member asked every other member every 10 s: N × (N - 1) calls of background traffic that an
/// idle 32-node cluster paid three calls a second per node for (and as many wake-ups), shown to nobody. `peers` starts a
/// round unless the last one is under a second old and waits for it (briefly); the status page, which refreshes
/// itself, shows the last answers and starts a round when they are older than <see cref="ChunkOptions.UsageInterval"/>.
/// </summary>
public sealed class PeerUsagePoll
{
    private readonly IChunkNetwork _network;
    private readonly IChunkCluster _cluster;
    private readonly ChunkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, UsageAnswer> _answers = [];
    private readonly SemaphoreSlim _wanted = new(0, 1);
    private TaskCompletionSource _round = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long? _lastRoundAt;

    public PeerUsagePoll(IChunkNetwork network, IChunkCluster cluster, ChunkOptions options, TimeProvider time, ILogger logger)
    {
        _network = network;
        _cluster = cluster;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>What <paramref name="peer"/> last reported storing, or null if it has not answered yet.</summary>
    public UsageAnswer? Of(PeerId peer)
    {
        lock (_gate) return _answers.GetValueOrDefault(peer);
    }

    /// <summary>Starts a round unless the last one is younger than <see cref="ChunkOptions.UsageInterval"/>; does not wait for it.</summary>
    public void Request() => _ = Start(_options.UsageInterval);

    /// <summary>Starts a round unless the last one is younger than <paramref name="maxAge"/>, and waits for it at most <paramref name="wait"/>.</summary>
    public async Task RefreshAsync(TimeSpan maxAge, TimeSpan wait, CancellationToken ct)
    {
        var round = Start(maxAge);
        if (round.IsCompleted) return;
        try
        {
            await round.WaitAsync(wait, _time, ct);
        }
        catch (TimeoutException)
        {
            // Shown with what answered so far; the round goes on.
        }
    }

    private Task Start(TimeSpan maxAge)
    {
        Task round;
        lock (_gate)
        {
            if (_lastRoundAt is { } at && _time.GetElapsedTime(at) < maxAge) return Task.CompletedTask;
            round = _round.Task;
        }
        try
        {
            if (_wanted.CurrentCount == 0) _wanted.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already asked for.
        }
        return round;
    }

    /// <summary>Runs rounds as they are asked for, until <paramref name="ct"/> ends.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _wanted.WaitAsync(ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                var peers = _cluster.Live().Where(p => p.Id != _cluster.Self).ToList();
                var answers = await Task.WhenAll(peers.Select(async p => (p.Id, Call: await _network.CallAsync(p, new UsageQuery(), _options.QueryDeadline, ct))));
                lock (_gate)
                {
                    foreach (var (id, call) in answers)
                    {
                        if (call.Answer is UsageAnswer usage) _answers[id] = usage;
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning("chunk usage poll failed: {Error}", e.Message);
            }
            TaskCompletionSource done;
            lock (_gate)
            {
                _lastRoundAt = _time.GetTimestamp();
                done = _round;
                _round = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            done.TrySetResult();
        }
    }
}
