using DinoMesh.Core.Identity;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume;

// Blocks no write will queue again: those left fragmented when the node stopped (killed, or restarted while a file's
// quiet period ran) were in the queue of the process that died, and those of a node that died for good are nobody's.
// Scans of the committed state find them: a few passes after the start, then one every CompactionScanEvery.
// Who takes a file in a pass is FragmentedBlocks.Takes: one member per file and pass.
internal sealed partial class Compactor
{
    private Task? _scan, _periodicScan;

    /// <summary>Time after the mount before the scan begins: the start and the catch-up with the cluster go first.</summary>
    public static readonly TimeSpan ScanAfter = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Time between the passes after a start. Pass k takes the files this node is ranked k for
    /// (<see cref="FragmentedBlocks.Takes"/>): the first pass its own share, the next the share of the member ranked
    /// before it, which may not have restarted, and so on. When all restart at once, each has compacted its own share
    /// by then (30 s at 32 MiB/s is about 1 GiB), and the later passes find those blocks done; at most one node takes a
    /// file in each pass. The later passes take only files unchanged for as long (a file some node is writing is that
    /// node's compactor's business).
    /// </summary>
    public static readonly TimeSpan OthersAfter = TimeSpan.FromSeconds(30);

    /// <summary>Passes after a start at most; the periodic scan takes over the turns of any further members.</summary>
    public const int StartPasses = 8;

    /// <summary>
    /// How long a file of this node's share must have been unchanged for the first pass to take it: 4 quiet periods,
    /// so that its writer's compactor, if the writer lives, has had its turn.
    /// </summary>
    public static readonly TimeSpan FirstQuiet = QuietPeriod * 4;

    /// <summary>Inodes looked at between two yields of the scan (a pause of a millisecond or more each).</summary>
    private const int ScanBatch = 1024;

    /// <summary>How long a pass waits at most, in all, for the queue to drain below half full before it gives up.</summary>
    private static readonly TimeSpan RoomWait = TimeSpan.FromMinutes(10);

    /// <summary>Starts the scans in the background, once per start; returns at once. They end at <see cref="Stop"/>.</summary>
    public void ScanAfterStart(PeerId self)
    {
        if (_options.CompactionThreshold < 2) return;
        lock (_gate)
        {
            _scan ??= Task.Run(() => ScanAsync(self, _stopping.Token));
            _periodicScan ??= Task.Run(() => ScanPeriodicallyAsync(self, _stopping.Token));
        }
    }

    private async Task ScanAsync(PeerId self, CancellationToken ct)
    {
        try
        {
            await Task.Delay(ScanAfter, ct).ConfigureAwait(false);
            try
            {
                var waited = TimeSpan.Zero;
                var passes = Math.Clamp(_state().Members.Count, 1, StartPasses);
                for (var turn = 0; turn < passes; turn++)
                {
                    if (turn > 0) await Task.Delay(OthersAfter, ct).ConfigureAwait(false);
                    waited = await ScanPassAsync(self, turn, turn == 0 ? FirstQuiet : OthersAfter, waited, periodic: false, ct).ConfigureAwait(false);
                }
            }
            catch (TimeoutException)
            {
                _logger.LogInformation("the scan for fragmented blocks after the start stopped: the compaction queue stayed over half full for {Minutes} min", RoomWait.TotalMinutes);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Unmounted: the next start scans again.
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "the scan for fragmented blocks failed; a write to such a block still queues it");
        }
    }

    /// <summary>
    /// From the mount on, apart from the passes after the start (which may take a file of the same turn meanwhile: the
    /// conditional <see cref="CompactExtents"/> makes a second rewrite a no-op, and it takes a restart to happen):
    /// one pass at the start of each <see cref="VolumeOptions.CompactionScanEvery"/> window of the wall clock, over the
    /// files unchanged for as long, of which this node takes those of the window's turn (<see cref="FragmentedBlocks.TurnAt"/>):
    /// all nodes use the same turn in a window, so one member takes each file, and over as many windows as members each
    /// member has its turn (a file whose first members are gone for good waits at most that many windows).
    /// </summary>
    private async Task ScanPeriodicallyAsync(PeerId self, CancellationToken ct)
    {
        var every = _options.CompactionScanEvery;
        if (every <= TimeSpan.Zero) return;
        var everyMs = Math.Max(1, (long)every.TotalMilliseconds);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                await Task.Delay(TimeSpan.FromMilliseconds(everyMs - (nowMs % everyMs)), ct).ConfigureAwait(false);
                var turn = FragmentedBlocks.TurnAt(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), every);
                try
                {
                    await ScanPassAsync(self, turn, every, TimeSpan.Zero, periodic: true, ct).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    _logger.LogInformation("a periodic scan for fragmented blocks stopped: the compaction queue stayed over half full for {Minutes} min", RoomWait.TotalMinutes);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Unmounted.
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "the periodic scan for fragmented blocks failed; a write to such a block still queues it");
        }
    }

    /// <summary>
    /// One walk over the inodes of the state as it is now (immutable: writes go on meanwhile), queuing the fragmented
    /// blocks of the files unchanged for <paramref name="quiet"/> that this node takes in <paramref name="turn"/>. Yields
    /// every <see cref="ScanBatch"/> inodes, and leaves half the queue to writes. Returns the time it waited for room
    /// so far (bounded by <see cref="RoomWait"/>).
    /// </summary>
    private async Task<TimeSpan> ScanPassAsync(PeerId self, long turn, TimeSpan quiet, TimeSpan waited, bool periodic, CancellationToken ct)
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
            if (!FragmentedBlocks.Takes(state, self, ino, turn)) continue;
            FragmentedBlocks.Of(inode, size, threshold, blocks);
            foreach (var (block, filled) in blocks)
            {
                while (Waiting >= MaxQueued / 2)
                {
                    if (waited >= RoomWait) throw new TimeoutException();
                    await Task.Delay(QuietPeriod / 5, ct).ConfigureAwait(false);
                    waited += QuietPeriod / 5;
                }
                if (Enqueue(ino, block, filled)) Interlocked.Increment(ref periodic ? ref _foundPeriodically : ref _foundAtStart);
            }
            blocks.Clear();
        }
        _logger.LogDebug("scan for fragmented blocks ({Kind}, turn {Turn}): {Inodes} inodes at version {Version}", periodic ? "periodic" : "after the start", turn, seen, state.Version);
        return waited;
    }
}
