using System.Buffers;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume;

/// <summary>
/// Background compaction of files grown by small flushed writes (an append + fsync loop leaves one extent per flush,
/// for ever: thousands of small chunks or inline pieces per MiB, each a chunk file, a fetch and an entry in every node's
/// state). After this node commits a write, the chunk-size blocks it touched only partly are queued; one worker looks
/// at each, and when a block holds <see cref="VolumeOptions.CompactionThreshold"/> committed extents or more it reads a
/// hole-free run of them through the normal read path, stores the bytes as one chunk (inline when small) through the
/// normal store, and commits <see cref="CompactExtents"/>, which replaces the run only if it is still exactly what was
/// read: a write from any node that lands there meanwhile wins, and the compaction becomes a no-op whose chunk the
/// garbage collector reclaims. Never on a syscall's path: <see cref="Written"/> only queues.
/// <para>Which run (<see cref="Choose"/>): of the block's hole-free runs the one with most extents; of it, the last
/// half-threshold extents, extended backwards while the next older extent is no longer than what is merged so far. The
/// sizes then grow like a binary counter, so a byte is rewritten about log2(appends per block / threshold) times —
/// 1.7x for 8 KiB appends, 3.7x for 200 B ones (simulated; see docs/benchmarks.md) — where merging the whole run each
/// time costs 4x and 175x, and a block never holds more than the threshold of extents once the worker caught up.
/// And when a write fills a block up to its end (an appender moving on to the next block) and the block's extents
/// cover it whole, the block becomes one chunk: one rewrite more per byte, for a file that reads back as whole 1 MiB
/// chunks (each remote chunk is a fetch, and read-ahead counts chunks).</para>
/// <para>When: a file this node committed a write to in the last <see cref="QuietPeriod"/> is left alone until it is
/// quiet, unless a block of it holds <see cref="BusyFactor"/> times the threshold (then the same rule with that
/// threshold): every fsync flushes the whole chunk disk, so bytes rewritten under a flushing writer are paid for by it.</para>
/// <para>Which blocks are queued: only those that the worker would act on, judged on the committed state right after
/// the write (<see cref="Written"/>): a small file's one write queues nothing. Blocks left fragmented when the node
/// stopped, or by a node gone for good, are found by scans of the committed state after the start and periodically
/// (Compactor.StartScan.cs).</para>
/// </summary>
internal sealed partial class Compactor
{
    private readonly Func<FileSystemState> _state;
    private readonly FileContents _contents;
    private readonly ChunkAccess _chunks;
    private readonly Func<MutationKind, CancellationToken, ValueTask<ApplyResult>> _commit;
    private readonly VolumeOptions _options;
    private readonly ILogger _logger;
    // The chunk store's free bytes, as statfs reads them (FreeSpaceGauge: one statvfs per 100 ms at most).
    private readonly Func<long> _freeBytes;
    private long _reserve = -1;
    private readonly CompactionPause _pause;
    private readonly Lock _gate = new();
    private readonly Queue<(ulong Ino, long Block)> _queue = new();
    // Queued blocks, and whether a write that filled the block up to its end was among those that queued it.
    private readonly Dictionary<(ulong Ino, long Block), bool> _queued = [];
    private readonly HashSet<ChunkId> _storing = [];
    // When this node last committed a write to each file (Environment.TickCount64), to leave a busy file alone.
    private readonly BusyFiles _busy = new(QuietPeriod, MaxQueued);
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _worker;
    private long _compacted, _raced, _merged, _rewritten, _dropped, _queuedLooks, _foundAtStart, _foundPeriodically, _noSpace, _lowSpace;
    private long _lastReportTicks = Environment.TickCount64;
    private long _reportedDone;

    /// <summary>Blocks waiting at most; past it a block is dropped (the next write to it queues it again).</summary>
    public const int MaxQueued = 4096;


    /// <summary>
    /// A file this node wrote to less than this long ago is busy: its blocks wait, unless one holds
    /// <see cref="BusyFactor"/> times the threshold of extents. Each fsync is a syncfs of the chunk disk here (and a sync
    /// on the peers that took chunks), so what the compactor writes while a writer is flushing is flushed on that
    /// writer's time: measured, a compactor that kept up with 8 KiB appends cost them 13-35 % of their rate.
    /// </summary>
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(500);

    /// <summary>How many times the threshold a busy file's block may hold before it is compacted anyway (the bound on a steady appender).</summary>
    public const int BusyFactor = 16;

    /// <param name="freeBytes">The chunk store's free bytes, read cheaply (no statvfs of its own per run): for the reserve.</param>
    public Compactor(Func<FileSystemState> state, FileContents contents, ChunkAccess chunks,
        Func<MutationKind, CancellationToken, ValueTask<ApplyResult>> commit, VolumeOptions options, ILogger logger, Func<long> freeBytes)
    {
        _freeBytes = freeBytes;
        _pause = new CompactionPause(options.CompactionNoSpacePause, options.CompactionNoSpacePauseMax);
        _state = state;
        _contents = contents;
        _chunks = chunks;
        _commit = commit;
        _options = options;
        _logger = logger;
    }

    /// <summary>What the compactor did since start.</summary>
    public CompactionCounts Counts => new(Interlocked.Read(ref _compacted), Interlocked.Read(ref _raced), Interlocked.Read(ref _merged),
        Interlocked.Read(ref _rewritten), Interlocked.Read(ref _dropped), Interlocked.Read(ref _queuedLooks), Interlocked.Read(ref _foundAtStart),
        Interlocked.Read(ref _foundPeriodically), Interlocked.Read(ref _noSpace), Interlocked.Read(ref _lowSpace));

    /// <summary>
    /// This node committed <paramref name="write"/>, giving <paramref name="committed"/>: queue the blocks its extents
    /// cover only in part (a block one extent covers whole holds just that extent) and that the worker would act on
    /// there. Cheap, never waits, allocates nothing for a file that queues nothing: it runs on the flush's path, once
    /// per small file's close.
    /// </summary>
    public void Written(WriteExtents write, FileSystemState committed)
    {
        if (_options.CompactionThreshold < 2) return;
        // A file of one extent has nothing to merge in any block, now or in a look queued before: nor is there anything
        // the busy rule would hold back (a small file's create + write + close ends here).
        if (committed.Find(write.Ino) is not { IsRegular: true } inode || inode.Extents.Count < 2) return;
        _busy.Wrote(write.Ino, Environment.TickCount64);
        long size = _options.ChunkSize;
        foreach (var e in write.Extents)
        {
            if (e.Length <= 0) continue;
            // Blocks strictly between the first and the last are covered whole: only the two ends can be fragments.
            var first = e.Offset / size;
            var last = (e.End - 1) / size;
            var endsAtBoundary = e.End % size == 0;
            if (e.Offset % size != 0 || (first == last && !endsAtBoundary)) Consider(inode.Extents, write.Ino, first, first != last || endsAtBoundary);
            if (last != first && !endsAtBoundary) Consider(inode.Extents, write.Ino, last, false);
        }
    }

    /// <summary>
    /// Queues the block only if <see cref="CompactAsync"/> would do something with it on these extents: it holds the
    /// threshold or more (merged, or looked at again later while the file is busy), or a write filled it to its end and
    /// it holds two or more (merged whole if they cover it). Anything less the worker drops at once, after a wake-up.
    /// Extents are only added to a block by writes, and each of this node's writes comes through here again.
    /// </summary>
    private void Consider(ExtentMap extents, ulong ino, long block, bool filled)
    {
        long size = _options.ChunkSize;
        var count = extents.CountTouching(block * size, (block + 1) * size);
        if (count >= _options.CompactionThreshold || (filled && count >= 2)) Enqueue(ino, block, filled);
    }

    /// <summary>Chunks stored for a compaction whose commit has not finished: garbage collection must keep them.</summary>
    public void AddStoring(HashSet<ChunkId> into)
    {
        lock (_gate) into.UnionWith(_storing);
    }

    public void Stop()
    {
        _stopping.Cancel();
        try
        {
            _worker?.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // Cancelled: nothing to finish. A compaction cut short leaves its chunk to garbage collection.
        }
    }

    /// <summary>Queues a look at the block (one wake-up of the worker); false when it was queued already or the queue is full.</summary>
    private bool Enqueue(ulong ino, long block, bool filled)
    {
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested) return false;
            if (_queued.TryGetValue((ino, block), out var was))
            {
                _queued[(ino, block)] = was || filled;
                return false;
            }
            if (_queued.Count >= MaxQueued)
            {
                _dropped++;
                return false;
            }
            _queued.Add((ino, block), filled);
            _queue.Enqueue((ino, block));
            _queuedLooks++;
            _worker ??= Task.Run(() => RunAsync(_stopping.Token));
        }
        _signal.Release();
        return true;
    }

    /// <summary>Blocks waiting for a look now.</summary>
    private int Waiting
    {
        get
        {
            lock (_gate) return _queued.Count;
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await _signal.WaitAsync(ct).ConfigureAwait(false);
            (ulong Ino, long Block) next;
            bool filled;
            lock (_gate)
            {
                if (!_queue.TryDequeue(out next)) continue;
                // Out of the set before the work: a write committed meanwhile queues the block for another look.
                _queued.Remove(next, out filled);
            }
            long rewritten = 0;
            try
            {
                rewritten = await CompactAsync(next.Ino, next.Block, filled, ct).ConfigureAwait(false);
                if (rewritten == Later)
                {
                    // The file is busy: back in the queue (keeping what queued it), looked at again a moment later.
                    rewritten = 0;
                    Enqueue(next.Ino, next.Block, filled);
                    await Task.Delay(QuietPeriod / 5, ct).ConfigureAwait(false);
                }
                else if (rewritten is NoSpaceLeft or BelowReserve)
                {
                    // A full disk (or log) stays full for a while, and a merge needs room for its chunk before garbage
                    // collection frees the pieces': nothing is stored for a pause (longer at each failure in a row),
                    // and the block waits in the queue. One line per pause: the store and ChunkAccess log the
                    // compactor's ENOSPC at Debug (ChunkAccess.Store's background).
                    var full = rewritten == NoSpaceLeft;
                    rewritten = 0;
                    var times = full ? Interlocked.Increment(ref _noSpace) : Interlocked.Increment(ref _lowSpace);
                    Enqueue(next.Ino, next.Block, filled);
                    var pause = _pause.Failed();
                    if (full)
                    {
                        _logger.LogWarning(
                            "compaction paused for {Seconds} s: no space left for the merged run of block {Block} of inode {Ino} ({Times} times since start); the file keeps its pieces",
                            pause.TotalSeconds, next.Block, next.Ino, times);
                    }
                    else
                    {
                        _logger.LogInformation(
                            "compaction paused for {Seconds} s: a merged run of block {Block} of inode {Ino} would leave less than the {Reserve} bytes kept free for writes ({Times} times since start); the file keeps its pieces",
                            pause.TotalSeconds, next.Block, next.Ino, Interlocked.Read(ref _reserve), times);
                    }
                    await Task.Delay(pause, ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "compacting block {Block} of inode {Ino} failed; a later write to it tries again", next.Block, next.Ino);
            }
            Report();
            // The rate bound: background rewriting must not crowd out the writers it is cleaning up after.
            if (rewritten > 0 && _options.CompactionBytesPerSecond > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(rewritten / (double)_options.CompactionBytesPerSecond), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Compacts one run of the block if it is fragmented enough, or all of it when a write just filled it to its end
    /// (<paramref name="filled"/>) and its extents cover it whole; returns the bytes rewritten (0 when nothing was).
    /// </summary>
    private async Task<long> CompactAsync(ulong ino, long block, bool filled, CancellationToken ct)
    {
        if (_state().Find(ino) is not { IsRegular: true } inode) return 0;
        long size = _options.ChunkSize;
        var start = block * size;
        var inBlock = inode.Extents.Touching(start, start + size).ToList();
        var look = Decide(inBlock, start, start + size, filled, _busy.IsBusy(ino, Environment.TickCount64), _options.CompactionThreshold);
        if (look.Kind == LookKind.Later) return Later;
        var run = look.Kind switch
        {
            LookKind.Whole => inBlock,
            LookKind.Run => Choose(inBlock, start, start + size, look.Threshold),
            _ => null,
        };
        if (run is null) return 0;
        var from = run[0].Offset;
        var length = run[^1].End - from;
        // Staged bytes there would overwrite the result at their commit (which queues the block again).
        if (_contents.HasStagedIn(ino, from, from + length)) return 0;
        // A merged chunk is new space now, its pieces are freed an hour later: never take what users' writes need.
        if (length > Extent.MaxInline && !LeavesReserve(length)) return BelowReserve;
        var prepared = await _chunks.PrepareAsync(0, inode.Extents, from, length, ct).ConfigureAwait(false);
        if (prepared != FsError.None) return Gave(ino, from, length, $"its bytes could not be read ({prepared})");
        var buffer = ArrayPool<byte>.Shared.Rent((int)length);
        ChunkId? stored = null;
        try
        {
            var bytes = buffer.AsSpan(0, (int)length);
            var read = _contents.ReadCommitted(run, from, bytes);
            if (read != FsError.None) return Gave(ino, from, length, $"its bytes could not be read ({read})");
            Extent replacement;
            if (length <= Extent.MaxInline) replacement = new Extent(from, length, default, 0, bytes.ToArray());
            else
            {
                var (error, id) = _chunks.Store(bytes, background: true);
                if (error == FsError.NoSpace) return NoSpaceLeft;
                if (error != FsError.None) return Gave(ino, from, length, $"its chunk could not be stored ({error})");
                lock (_gate) _storing.Add(id);
                stored = id;
                replacement = new Extent(from, length, id, 0);
            }
            var compaction = new CompactExtents(ino, new ByteRange(from, length), ExtentDigest.Of(run), replacement);
            var result = await _commit(compaction, ct).ConfigureAwait(false);
            VolumeMetrics.Compacted(!result.Ok ? "refused" : result.Effect.Ino == ino ? "compacted" : "raced", length);
            Interlocked.Add(ref _rewritten, length);
            if (result is { Ok: false, Error: FsError.NoSpace }) return NoSpaceLeft;
            if (!result.Ok) return Gave(ino, from, length, $"the commit was refused ({result.Error})", length);
            if (result.Effect.Ino != ino)
            {
                // Someone wrote into the run after it was read: their write stands, this chunk is garbage.
                Interlocked.Increment(ref _raced);
                _logger.LogDebug("compaction of inode {Ino} [{From}, +{Length}) lost to a concurrent write", ino, from, length);
                return length;
            }
            Interlocked.Increment(ref _compacted);
            Interlocked.Add(ref _merged, run.Count);
            if (stored is not null) _pause.Stored();
            _logger.LogDebug("compacted inode {Ino} [{From}, +{Length}): {Count} extents into one", ino, from, length, run.Count);
            // Several runs in one block (holes between them): the next may still be over the threshold. And a fill to
            // the block's end that a busy file's run could not serve waits for the file to be quiet.
            if (look.FillWaits || inBlock.Count - run.Count + 1 >= _options.CompactionThreshold) Enqueue(ino, block, look.FillWaits);
            return length;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (stored is { } id) lock (_gate) _storing.Remove(id);
        }
    }

    /// <summary>
    /// What one look at a block does, on its extents (<paramref name="inBlock"/>, those touching [start, end)), whether a
    /// write filled it to its end, whether the file is busy, and the threshold: nothing; later (a busy file under its
    /// bound); the whole block as one chunk (a quiet file, filled, its extents covering the block); or a run chosen at
    /// the threshold (times <see cref="BusyFactor"/> while busy). A busy file's run leaves a fill unserved: then
    /// <see cref="BlockLook.FillWaits"/>, and the block is queued again as filled, to become one chunk once quiet — else an
    /// appender slower than the worker, whose filling write's look is folded into one taken for the busy bound, leaves
    /// the block in two or more extents for good.
    /// </summary>
    internal static BlockLook Decide(IReadOnlyList<Extent> inBlock, long start, long end, bool filled, bool busy, int threshold)
    {
        if (busy && inBlock.Count < threshold * BusyFactor) return new(inBlock.Count >= threshold || filled ? LookKind.Later : LookKind.None);
        if (!busy && filled && Whole(inBlock, start, end)) return new(LookKind.Whole);
        if (inBlock.Count < threshold) return new(LookKind.None);
        return new(LookKind.Run, busy ? threshold * BusyFactor : threshold, FillWaits: busy && filled);
    }

    /// <summary>What <see cref="CompactAsync"/> answers for a block of a busy file that is to be looked at again later.</summary>
    private const long Later = -1;

    /// <summary>What <see cref="CompactAsync"/> answers when the chunk store or the log had no space for the run (ENOSPC).</summary>
    private const long NoSpaceLeft = -2;

    /// <summary>What <see cref="CompactAsync"/> answers when the run's chunk would leave less free than the reserve.</summary>
    private const long BelowReserve = -3;

    /// <summary>
    /// Whether a chunk of <paramref name="bytes"/> leaves the reserve free (<see cref="VolumeOptions.CompactionFreeSpaceReserve"/>,
    /// by default <see cref="CompactionReserve.For"/> the filesystem's size, read once). A free space that cannot be
    /// read holds nothing back: the store's own ENOSPC still pauses the compactor.
    /// </summary>
    private bool LeavesReserve(long bytes)
    {
        try
        {
            var reserve = Interlocked.Read(ref _reserve);
            if (reserve < 0)
            {
                reserve = _options.CompactionFreeSpaceReserve ?? CompactionReserve.For(_chunks.Capacity().Total);
                Interlocked.Exchange(ref _reserve, reserve);
            }
            // No reserve: no look at the free space either; the store's own ENOSPC is the only guard.
            return reserve <= 0 || CompactionReserve.Leaves(_freeBytes(), bytes, reserve);
        }
        catch (IOException e)
        {
            _logger.LogDebug("compaction: the chunk store's free space is unknown ({Error}); no reserve kept", e.Message);
            return true;
        }
    }

    private long Gave(ulong ino, long from, long length, string why, long rewritten = 0)
    {
        _logger.LogDebug("compaction of inode {Ino} [{From}, +{Length}) given up: {Why}", ino, from, length, why);
        return rewritten;
    }

    /// <summary>
    /// The extents to merge, in order, or null: of the hole-free runs of extents lying wholly in [start, end), the one
    /// with most extents (the later on a tie: an appended file's tail); of that run the last half-threshold extents,
    /// extended backwards while the next older extent is no longer than the merged bytes so far.
    /// </summary>
    internal static IReadOnlyList<Extent>? Choose(IReadOnlyList<Extent> extents, long start, long end, int threshold)
    {
        int bestFrom = 0, bestCount = 0, runFrom = 0, runCount = 0;
        for (var i = 0; i < extents.Count; i++)
        {
            var x = extents[i];
            var inside = x.Offset >= start && x.End <= end;
            if (inside && runCount > 0 && extents[i - 1].End == x.Offset) runCount++;
            else if (inside)
            {
                runFrom = i;
                runCount = 1;
            }
            else runCount = 0;
            if (runCount >= bestCount)
            {
                bestFrom = runFrom;
                bestCount = runCount;
            }
        }
        if (bestCount < 2) return null;
        var take = Math.Min(bestCount, Math.Max(2, threshold / 2));
        var first = bestFrom + bestCount - take;
        long merged = 0;
        for (var i = first; i < bestFrom + bestCount; i++) merged += extents[i].Length;
        while (first > bestFrom && extents[first - 1].Length <= merged)
        {
            first--;
            merged += extents[first].Length;
        }
        return [.. extents.Skip(first).Take(bestFrom + bestCount - first)];
    }

    /// <summary>Two or more extents that cover [start, end) exactly, with no hole and nothing reaching outside.</summary>
    internal static bool Whole(IReadOnlyList<Extent> extents, long start, long end) =>
        extents.Count >= 2 && ExtentMap.Tiles(extents, start, end);

    private void Report()
    {
        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _lastReportTicks) < _options.CompactionReportEvery.TotalMilliseconds) return;
        var counts = Counts;
        // Runs given up for space count as progress to report: a disk that stays full compacts nothing, and the summary
        // is then the one place that says how often the worker came back to it. The clock starts only at a line
        // written, so the first run after a quiet spell is reported at once, not up to a minute later.
        var done = counts.Compacted + counts.NoSpace + counts.LowSpace;
        if (done == Interlocked.Exchange(ref _reportedDone, done)) return;
        Interlocked.Exchange(ref _lastReportTicks, now);
        _logger.LogInformation(
            "compaction since start: {Compacted} runs compacted ({Merged} extents into {Compacted2}), {Bytes} bytes rewritten, {Raced} lost to concurrent writes, {Dropped} blocks dropped from a full queue, {NoSpace} given up on a full disk, {LowSpace} held back by the free-space reserve",
            counts.Compacted, counts.ExtentsMerged, counts.Compacted, counts.BytesRewritten, counts.Raced, counts.Dropped, counts.NoSpace, counts.LowSpace);
    }
}

/// <summary>
/// What the compactor did since start: runs replaced, runs lost to a concurrent write, extents merged, bytes rewritten,
/// blocks dropped from a full queue, looks queued (each a wake-up of the worker; a busy block's look queued again counts
/// again), blocks the scan after the start found fragmented and queued, those the periodic scan did, and runs given up
/// because the chunk store or the log had no space left, and runs not stored because their chunk would have left less free
/// space than the reserve (<see cref="VolumeOptions.CompactionFreeSpaceReserve"/>); each of the last two is followed by
/// a pause (<see cref="CompactionPause"/>).
/// </summary>
public readonly record struct CompactionCounts(long Compacted, long Raced, long ExtentsMerged, long BytesRewritten, long Dropped,
    long Queued = 0, long FoundAtStart = 0, long FoundPeriodically = 0, long NoSpace = 0, long LowSpace = 0);

/// <summary>What a look at a block does (<see cref="Compactor.Decide"/>).</summary>
internal enum LookKind { None, Later, Whole, Run }

/// <summary>One look's decision: its kind, the threshold a run is chosen at, and whether a fill still waits after the run.</summary>
internal readonly record struct BlockLook(LookKind Kind, int Threshold = 0, bool FillWaits = false);
