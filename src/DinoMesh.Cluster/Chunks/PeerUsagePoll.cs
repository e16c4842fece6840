using DinoMesh.Core.Identity;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// What each member stores (for `dino-node peers` and the status page), asked only when someone looks. Polled on a
/// clock instead, every member asked every other member every 10 s: N × (N - 1) calls of background traffic that an
/// idle 32-node cluster paid three calls a second per node for (and as many wake-ups), shown to nobody. A look starts a
/// round when the last answers are older than <see cref="ChunkOptions.UsageInterval"/>, and shows the answers it has;
/// `peers` waits for the round (at most 2 s) only when it has none younger than a minute, so a script that runs
/// `peers` on every node at once, again and again, neither waits each time nor starts more than a round per interval.
/// The questions go over the lean path, whose connections SWIM keeps open: no handshake per round.
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

    /// <summary>Answers older than this make `peers` wait for a new round.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(1);

    /// <summary>Starts a round unless the last one is younger than <see cref="ChunkOptions.UsageInterval"/>; does not wait for it.</summary>
    public void Request() => _ = Start(_options.UsageInterval);

    /// <summary>
    /// Starts a round unless the last one is younger than <see cref="ChunkOptions.UsageInterval"/>, and waits for it at
    /// most <paramref name="wait"/> when the answers at hand are older than <see cref="StaleAfter"/> (or there are none).
    /// </summary>
    public async Task LookAsync(TimeSpan wait, CancellationToken ct)
    {
        var round = Start(_options.UsageInterval);
        if (round.IsCompleted) return;
        lock (_gate)
        {
            if (_lastRoundAt is { } at && _time.GetElapsedTime(at) < StaleAfter) return;
        }
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
