using DinoMesh.Core.Identity;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume;

// After a start: the blocks left fragmented when the node stopped (killed, or restarted while a file's quiet period
// ran) were in the queue of the process that died; only a write to them would queue them again. A scan of the
// committed state finds them instead.
internal sealed partial class Compactor
{
    private Task? _scan;

    /// <summary>Time after the mount before the scan begins: the start and the catch-up with the cluster go first.</summary>
    public static readonly TimeSpan ScanAfter = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Time after its own files before a node queues every file still fragmented, the others' too: the member chosen
    /// first for a file (<see cref="FragmentedBlocks.FirstFor"/>) may not have restarted, and so never scans. When all
    /// restart at once, each has compacted its own share by then, and the second pass finds those blocks done. It also
    /// takes only files unchanged for as long (a file some node is writing is that node's compactor's business).
    /// </summary>
    public static readonly TimeSpan OthersAfter = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a file of this node's share must have been unchanged for the first pass to take it: 4 quiet periods,
    /// so that its writer's compactor, if the writer lives, has had its turn.
    /// </summary>
    public static readonly TimeSpan FirstQuiet = QuietPeriod * 4;

    /// <summary>Inodes looked at between two yields of the scan (a pause of a millisecond or more each).</summary>
    private const int ScanBatch = 1024;

    /// <summary>How long the scan waits at most, in all, for the queue to drain below half full before it gives up.</summary>
    private static readonly TimeSpan RoomWait = TimeSpan.FromMinutes(10);

    /// <summary>Starts the scan in the background, once per start; returns at once.</summary>
    public void ScanAfterStart(PeerId self)
    {
        if (_options.CompactionThreshold < 2) return;
        lock (_gate) _scan ??= Task.Run(() => ScanAsync(self, _stopping.Token));
    }

    private async Task ScanAsync(PeerId self, CancellationToken ct)
    {
        try
        {
            await Task.Delay(ScanAfter, ct).ConfigureAwait(false);
            var waited = TimeSpan.Zero;
            waited = await ScanPassAsync(self, onlyFirstForSelf: true, FirstQuiet, waited, ct).ConfigureAwait(false);
            await Task.Delay(OthersAfter, ct).ConfigureAwait(false);
            await ScanPassAsync(self, onlyFirstForSelf: false, OthersAfter, waited, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Unmounted: the next start scans again.
        }
        catch (TimeoutException)
        {
            _logger.LogInformation("the scan for fragmented blocks stopped: the compaction queue stayed over half full for {Minutes} min", RoomWait.TotalMinutes);
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "the scan for fragmented blocks failed; a write to such a block still queues it");
        }
    }

    /// <summary>
    /// One walk over the inodes of the state as it is now (immutable: writes go on meanwhile), queuing the fragmented
    /// blocks of the files unchanged for <paramref name="quiet"/>, of those this node is first for or of all. Yields
    /// every <see cref="ScanBatch"/> inodes, and leaves half the queue to writes. Returns the time it waited for room
    /// so far (bounded by <see cref="RoomWait"/>).
    /// </summary>
    private async Task<TimeSpan> ScanPassAsync(PeerId self, bool onlyFirstForSelf, TimeSpan quiet, TimeSpan waited, CancellationToken ct)
    {
        var state = _state();
        var nowNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        long size = _options.ChunkSize;
        var threshold = _options.CompactionThreshold;
        var blocks = new List<(long Block, bool Filled)>();
        var seen = 0;
        foreach (var (ino, inode) in state.Inodes)
        {
            if (++seen % ScanBatch == 0) await Task.Delay(1, ct).ConfigureAwait(false);
            if (!inode.IsRegular || inode.Extents.Count < threshold) continue;
            if (!FragmentedBlocks.QuietFor(inode, nowNs, quiet)) continue;
            if (onlyFirstForSelf && !FragmentedBlocks.FirstFor(state, self, ino)) continue;
            FragmentedBlocks.Of(inode, size, threshold, blocks);
            foreach (var (block, filled) in blocks)
            {
                while (Waiting >= MaxQueued / 2)
                {
                    if (waited >= RoomWait) throw new TimeoutException();
                    await Task.Delay(QuietPeriod / 5, ct).ConfigureAwait(false);
                    waited += QuietPeriod / 5;
                }
                if (Enqueue(ino, block, filled)) Interlocked.Increment(ref _foundAtStart);
            }
            blocks.Clear();
        }
        _logger.LogDebug("scan for fragmented blocks ({Whose}): {Inodes} inodes at version {Version}", onlyFirstForSelf ? "this node's share" : "all", seen, state.Version);
        return waited;
    }
}
