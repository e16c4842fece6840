using System.Collections.Concurrent;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging;
using Extent = DinoMesh.Core.Metadata.Extent;

namespace DinoMesh.Volume;

/// <summary>
/// The data path: writes are staged per inode in chunk-aligned memory blocks; a block that fills up becomes a chunk
/// at once (so a streaming write never piles up in memory), and flush/fsync/release turn whatever is left into chunks
/// and commit all new extents in one range-based mutation. Reads merge committed extents, extents chunked but not
/// yet committed, and staged bytes, so a writer always reads its own writes.
/// <para>A block that cannot be stored (ENOSPC, EIO) is never dropped: it keeps its bytes and its place, the error
/// sticks to the file (every later write, flush and fsync reports it), nothing is committed for the file while it
/// lasts, and each of those calls tries the block again, so the data lands once there is room.</para>
/// </summary>
internal sealed partial class FileContents
{
    private readonly ConcurrentDictionary<ulong, StagedFile> _staged = new();

    /// <summary>Files whose append commit timed out and was given up (<see cref="Unsettled"/>), until a flush reports it.</summary>
    private readonly ConcurrentDictionary<ulong, FsError> _unsettledAppends = new();
    private readonly ChunkAccess _chunks;
    private readonly VolumeOptions _options;
    private readonly Func<MutationKind, ValueTask<FsError>> _backgroundCommit;
    private readonly ILogger _logger;

    /// <param name="backgroundCommit">Commits a mutation no request is waiting for (staged writes that piled up).</param>
    public FileContents(ChunkAccess chunks, VolumeOptions options, Func<MutationKind, ValueTask<FsError>> backgroundCommit, ILogger logger)
    {
        _chunks = chunks;
        _options = options;
        _backgroundCommit = backgroundCommit;
        _logger = logger;
    }

    /// <summary>Blocks one file may have in flight before a writer waits: bounds memory, keeps both cores busy.</summary>
    private const int MaxInFlight = 4;

    /// <summary>The size a reader on this node sees: the committed size or the end of staged writes.</summary>
    public long VisibleSize(Inode inode)
    {
        if (!_staged.TryGetValue(inode.Ino, out var staged)) return inode.Size;
        lock (staged.Gate) return Math.Max(inode.Size, staged.End);
    }

    /// <summary>
    /// Stages a write and waits, holding the calling thread, while the file has more than <see cref="MaxInFlight"/>
    /// blocks being stored (copy_file_range, which loops over a whole range on a thread of its own). Fails, staging
    /// nothing, while an earlier block of the file cannot be stored (the block is tried again first, so the write goes
    /// through once there is room).
    /// </summary>
    public FsError Write(ulong ino, long offset, ReadOnlySpan<byte> data, long nowNs)
    {
        var error = Stage(ino, ref offset, data, nowNs, null, out var staged);
        while (Crowded(staged) is { } oldest) oldest.Wait();
        return error;
    }

    /// <summary>
    /// Stages a write without waiting: the bytes are copied when it returns (the caller's buffer is free), and
    /// <paramref name="room"/> completes once the file has no more than <see cref="MaxInFlight"/> blocks being stored.
    /// A FUSE WRITE is answered only then (the same bound on a writer as <see cref="Write"/>), but no thread waits for
    /// it: the FUSE reader that copied the bytes reads on.
    /// </summary>
    public FsError Write(ulong ino, long offset, ReadOnlySpan<byte> data, long nowNs, out ValueTask room)
    {
        var error = Stage(ino, ref offset, data, nowNs, null, out var staged);
        room = error == FsError.None && Crowded(staged) is not null ? RoomAsync(staged) : ValueTask.CompletedTask;
        return error;
    }

    /// <summary>
    /// An O_APPEND write: staged at the end of the file as this node knows it (the end of its uncommitted append run, or
    /// else the committed size or the end of staged writes), decided under the file's lock, and committed so that it
    /// lands at the end of the file as the log orders it (<see cref="StagedFile.AppendFrom"/>). <paramref name="offset"/>
    /// is where it was staged. Otherwise as <see cref="Write(ulong, long, ReadOnlySpan{byte}, long, out ValueTask)"/>.
    /// </summary>
    public FsError Append(Inode inode, ReadOnlySpan<byte> data, long nowNs, out ValueTask room, out long offset)
    {
        offset = inode.Size;
        var error = Stage(inode.Ino, ref offset, data, nowNs, inode, out var staged);
        room = error == FsError.None && Crowded(staged) is not null ? RoomAsync(staged) : ValueTask.CompletedTask;
        return error;
    }

    private static async ValueTask RoomAsync(StagedFile? staged)
    {
        while (Crowded(staged) is { } oldest) await oldest.ConfigureAwait(false);
    }

    /// <summary>The oldest block in flight while the file has too many and none failed (a failure is the next call's answer), else null.</summary>
    private static Task? Crowded(StagedFile? staged)
    {
        if (staged is null) return null;
        lock (staged.Gate)
        {
            staged.Reap();
            return staged.InFlight.Count > MaxInFlight && staged.Error == FsError.None ? staged.InFlight[0].Work : null;
        }
    }

    /// <param name="appendTo">An O_APPEND write to this inode: <paramref name="offset"/> is decided here, under the lock.</param>
    private FsError Stage(ulong ino, ref long offset, ReadOnlySpan<byte> data, long nowNs, Inode? appendTo, out StagedFile? written)
    {
        written = null;
        if (appendTo is null && (offset < 0 || data.Length > FileSystemState.MaxFileSize - offset)) return FsError.TooBig;
        if (data.IsEmpty) return FsError.None;
        var size = _options.ChunkSize;
        var staged = _staged.GetOrAdd(ino, static _ => new StagedFile());
        staged.Gate.Enter();
        // A flush or discard may have let go of this entry between the lookup and the lock: take the current one.
        while (staged.Detached)
        {
            staged.Gate.Exit();
            staged = _staged.GetOrAdd(ino, static _ => new StagedFile());
            staged.Gate.Enter();
        }
        try
        {
            staged.Reap();
            if (!staged.Retry(ChunkBlock)) return staged.Error;
            var length = data.Length;
            if (appendTo is not null)
            {
                offset = staged.AppendFrom is null ? Math.Max(appendTo.Size, staged.End) : staged.AppendEnd;
                if (data.Length > FileSystemState.MaxFileSize - offset) return FsError.TooBig;
            }
            var position = offset;
            while (!data.IsEmpty)
            {
                var index = position / size;
                var within = (int)(position % size);
                var count = Math.Min(size - within, data.Length);
                if (!staged.Blocks.TryGetValue(index, out var block))
                {
                    block = new DirtyBlock(index, size);
                    staged.Blocks.Add(index, block);
                }
                block.Write(within, data[..count]);
                // A full block becomes a chunk on another core while the writer goes on.
                if (block.Covers(size)) StartSeal(staged, block);
                data = data[count..];
                position += count;
            }
            staged.End = Math.Max(staged.End, position);
            if (appendTo is not null) staged.Appended(offset, length, size);
            staged.LastWriteNs = nowNs;
            while (staged.Blocks.Count > _options.MaxDirtyBlocksPerFile) StartSeal(staged, staged.Blocks.First().Value);
            staged.Reap();
            written = staged;
            // Not while the pending extents end inside an append: that commit would cut it in two (StagedFile.AppendCrossings).
            if (staged.Pending.Count >= _options.PendingExtentsBeforeCommit && !staged.BackgroundCommit && staged.Error == FsError.None
                && staged.AppendCut() == long.MaxValue)
            {
                staged.BackgroundCommit = true;
                _ = Task.Run(() => CommitPendingAsync(ino, staged));
            }
            // These bytes are staged; a block that failed meanwhile is reported by the next call.
            return FsError.None;
        }
        finally
        {
            staged.Gate.Exit();
        }
    }

    /// <summary>
    /// Turns everything staged for <paramref name="ino"/> into chunks and commits it with one mutation through
    /// <paramref name="commit"/>. While a block of the file cannot be stored, nothing is committed and its error is
    /// returned.
    /// </summary>
    public async ValueTask<FsError> FlushAsync(ulong ino, Func<MutationKind, ValueTask<FsError>> commit)
    {
        var error = await FlushStagedAsync(ino, commit).ConfigureAwait(false);
        return error != FsError.None ? error : TakeUnsettledAppend(ino);
    }

    /// <summary>
    /// The error of an append commit of this file that timed out since the last flush that reported one
    /// (<see cref="Unsettled"/>), once, or <see cref="FsError.None"/>.
    /// </summary>
    public FsError TakeUnsettledAppend(ulong ino) => _unsettledAppends.TryRemove(ino, out var error) ? error : FsError.None;

    private async ValueTask<FsError> FlushStagedAsync(ulong ino, Func<MutationKind, ValueTask<FsError>> commit)
    {
        if (!_staged.TryGetValue(ino, out var staged)) return FsError.None;
        await staged.CommitGate.WaitAsync().ConfigureAwait(false);
        try
        {
            Task[] sealing;
            lock (staged.Gate)
            {
                staged.Reap();
                if (!staged.Retry(ChunkBlock)) return staged.Error;
                var blocks = staged.Blocks.Values.ToList();
                // Nothing in flight (the small-file case): chunk the rest here rather than pay a thread hop.
                var inline = staged.InFlight.Count == 0;
                foreach (var block in blocks)
                {
                    if (inline) SealNow(staged, block);
                    else StartSeal(staged, block);
                }
                sealing = [.. staged.InFlight.Select(f => f.Work)];
            }
            if (sealing.Length > 0) await Task.WhenAll(sealing).ConfigureAwait(false);
            NextCommit next;
            lock (staged.Gate)
            {
                staged.Reap();
                if (!staged.Retry(ChunkBlock)) return staged.Error;
                if (staged.IsClean)
                {
                    Detach(ino, staged);
                    return FsError.None;
                }
                if (staged.Pending.Count == 0) return FsError.None;
                next = PendingMutation(ino, staged);
            }
            if (next.Mutation.Extents.Length == 0) return FsError.None;
            // The commit itself runs outside the lock (it may wait on the network); a write racing with it stays staged
            // and is committed by the next flush, because only what was captured above is removed below.
            var result = await commit(next.Mutation).ConfigureAwait(false);
            if (result != FsError.None)
            {
                Unsettled(ino, staged, next, result);
                return result;
            }
            Committed(ino, staged, next);
            return FsError.None;
        }
        finally
        {
            staged.CommitGate.Release();
        }
    }

    /// <summary>
    /// The mutation that commits every pending extent. Its size claim ends where the extents end: bytes still in
    /// memory (a block in flight, or one that failed) are not claimed, so a crash cannot turn them into zeros.
    /// </summary>
    /// <remarks>
    /// An append run in it (<see cref="StagedFile.AppendFrom"/>) makes it an append: its bytes at and past the run's
    /// start move to the end of the file as the log orders it, the rest stay where they were written (a pwrite below
    /// the run through another descriptor). A write through a plain descriptor staged inside the run moves with it.
    /// When the pending extents end inside an append (a block sealed while the rest of that write is still in memory),
    /// the commit stops at that append's start, so its two parts are never committed apart.
    /// </remarks>
    private static NextCommit PendingMutation(ulong ino, StagedFile staged)
    {
        var cut = staged.AppendCut();
        var extents = cut == long.MaxValue ? [.. staged.Pending] : staged.Pending.Select(e => e.Clip(0, cut)).OfType<Extent>().ToArray();
        var claimed = cut == long.MaxValue ? staged.PendingEnd : extents.Select(e => e.End).DefaultIfEmpty(0).Max();
        var appendedAt = staged.AppendFrom is { } from && claimed > from ? from : (long?)null;
        var mutation = new WriteExtents(ino, extents, (ulong)claimed, staged.LastWriteNs, AppendedAt: appendedAt);
        return new NextCommit(mutation, staged.Pending.Count, cut, claimed, staged.Generation);
    }

    private void Committed(ulong ino, StagedFile staged, NextCommit next)
    {
        lock (staged.Gate)
        {
            // After a truncate the list was cut in place: keep it all; committing those extents again lays the same bytes.
            // Not so for an append, which would land again after itself: what is left of the run's committed part goes.
            if (staged.Generation == next.Generation) staged.RemoveCommitted(next.Count, next.Cut);
            else if (next.Mutation.AppendedAt is { } from) staged.ForgetPending(from, next.Claimed);
            staged.AppendCommitted(next.Claimed);
            if (staged.End <= next.Claimed) staged.End = 0;
            if (staged.IsClean) Detach(ino, staged);
        }
    }

    /// <summary>
    /// A commit failed. Committing the same bytes again is harmless for a plain write (they land where they landed), so
    /// they stay staged for the next flush, as always. Not for an append whose commit timed out: the holder may have
    /// taken it, and it may still land, so a second commit under a new op id would land after it and the bytes would be
    /// there twice (load/nemesis.py --appends concurrent: an fsync that timed out, then the close committed the line
    /// again). So the appended bytes of that commit are given up here, as a last close gives up what it could not commit:
    /// they are in the file once if the first commit lands, and not at all otherwise. The next flush of the file reports
    /// the error too (<see cref="TakeUnsettledAppend"/>), so a close after the failed fsync does not say all went well;
    /// the rest of the run goes on from where the given-up part ended, and lands after it if it landed.
    /// </summary>
    private void Unsettled(ulong ino, StagedFile staged, NextCommit next, FsError error)
    {
        if (error != FsError.TimedOut || next.Mutation.AppendedAt is not { } from) return;
        lock (staged.Gate)
        {
            staged.ForgetPending(from, next.Claimed);
            staged.AppendCommitted(next.Claimed);
            if (staged.End <= next.Claimed) staged.End = 0;
            if (staged.IsClean) Detach(ino, staged);
        }
        _unsettledAppends[ino] = error;
    }

    /// <summary>Lets go of a clean entry (under its lock); a writer that still holds it sees <see cref="StagedFile.Detached"/>.</summary>
    private void Detach(ulong ino, StagedFile staged)
    {
        staged.Detached = true;
        _staged.TryRemove(new KeyValuePair<ulong, StagedFile>(ino, staged));
    }

    /// <summary>
    /// Commits the pending extents of a file that keeps writing without a flush, so they stop piling up in memory (and
    /// in every read's merge). Dirty blocks stay staged; a failed commit leaves everything for the next flush.
    /// </summary>
    private async Task CommitPendingAsync(ulong ino, StagedFile staged)
    {
        try
        {
            await staged.CommitGate.WaitAsync().ConfigureAwait(false);
            try
            {
                NextCommit next;
                lock (staged.Gate)
                {
                    staged.Reap();
                    if (staged.Pending.Count == 0 || staged.Error != FsError.None) return;
                    next = PendingMutation(ino, staged);
                }
                if (next.Mutation.Extents.Length == 0) return;
                var result = await _backgroundCommit(next.Mutation).ConfigureAwait(false);
                if (result != FsError.None)
                {
                    Unsettled(ino, staged, next, result);
                    _logger.LogDebug("background commit of inode {Ino} failed ({Error}); the next flush tries again", ino, result);
                    return;
                }
                Committed(ino, staged, next);
            }
            finally
            {
                staged.CommitGate.Release();
            }
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "background commit of inode {Ino} failed; the next flush tries again", ino);
        }
        finally
        {
            lock (staged.Gate) staged.BackgroundCommit = false;
        }
    }

    /// <summary>Forgets staged bytes at or past <paramref name="size"/> (truncate, O_TRUNC).</summary>
    public void Truncate(ulong ino, long size)
    {
        if (!_staged.TryGetValue(ino, out var staged)) return;
        lock (staged.Gate)
        {
            staged.Generation++;
            staged.Drain();
            // Left in flight: a block that failed and those behind it. Their bytes past the new size go too.
            for (var i = staged.InFlight.Count - 1; i >= 0; i--)
            {
                var sealing = staged.InFlight[i];
                if (!CutBlock(sealing.Block, size))
                {
                    staged.InFlight.RemoveAt(i);
                    sealing.Block.Dispose();
                }
                else if (!sealing.Failed)
                {
                    var clipped = sealing.Work.Result.Extents.Select(e => e.Clip(e.Offset, size)).OfType<Extent>().ToList();
                    staged.InFlight[i] = sealing with { Work = Task.FromResult(new SealResult(FsError.None, clipped)) };
                }
            }
            staged.Reap();
            foreach (var block in staged.Blocks.Values.ToList())
            {
                if (CutBlock(block, size)) continue;
                staged.Blocks.Remove(block.Index);
                block.Dispose();
            }
            for (var i = staged.Pending.Count - 1; i >= 0; i--)
            {
                var e = staged.Pending[i];
                if (e.Offset >= size) staged.Pending.RemoveAt(i);
                else if (e.End > size) staged.Pending[i] = e.Clip(e.Offset, size)!.Value;
            }
            staged.RebuildPendingMap();
            staged.End = Math.Min(staged.End, size);
            staged.AppendTruncated(size);
        }
    }

    /// <summary>Cuts a block at the file size <paramref name="size"/>; false when nothing of it is left.</summary>
    private bool CutBlock(DirtyBlock block, long size)
    {
        var start = block.Index * _options.ChunkSize;
        if (start >= size) return false;
        if (start + _options.ChunkSize > size) block.CutAt((int)(size - start));
        return !block.IsEmpty;
    }

    /// <summary>Drops all staged data of a file that no longer exists (or whose staged bytes are given up).</summary>
    public void Discard(ulong ino)
    {
        _unsettledAppends.TryRemove(ino, out _);
        if (!_staged.TryRemove(ino, out var staged)) return;
        lock (staged.Gate)
        {
            staged.Detached = true;
            foreach (var sealing in staged.InFlight) sealing.Work.Wait();
            foreach (var sealing in staged.InFlight) sealing.Block.Dispose();
            staged.InFlight.Clear();
            foreach (var block in staged.Blocks.Values) block.Dispose();
            staged.Blocks.Clear();
            staged.Pending.Clear();
            staged.RebuildPendingMap();
            staged.End = 0;
            staged.EndAppendRun();
        }
    }

    /// <summary>
    /// <see cref="Discard"/> after any commit of the file in progress (a background one) has landed, so that a
    /// truncate committed next is not overtaken by writes staged before it (open with O_TRUNC).
    /// </summary>
    public async ValueTask DiscardAfterCommitsAsync(ulong ino)
    {
        if (!_staged.TryGetValue(ino, out var staged)) return;
        await staged.CommitGate.WaitAsync().ConfigureAwait(false);
        try
        {
            Discard(ino);
        }
        finally
        {
            staged.CommitGate.Release();
        }
    }

    public bool HasStaged(ulong ino) => _staged.ContainsKey(ino);

    /// <summary>
    /// True when bytes of [<paramref name="from"/>, <paramref name="to"/>) of the file are written here and not committed
    /// yet (pending extents, blocks in flight, dirty blocks): a compaction of that range would be overwritten at the next
    /// commit, so it is not worth doing now.
    /// </summary>
    public bool HasStagedIn(ulong ino, long from, long to)
    {
        if (!_staged.TryGetValue(ino, out var staged)) return false;
        lock (staged.Gate)
        {
            if (staged.PendingMap.Overlapping(from, to).Any()) return true;
            foreach (var sealing in staged.InFlight) if (Overlaps(sealing.Block, from, to)) return true;
            foreach (var block in staged.Blocks.Values) if (Overlaps(block, from, to)) return true;
            return false;
        }
    }

    private bool Overlaps(DirtyBlock block, long from, long to)
    {
        var start = block.Index * _options.ChunkSize;
        foreach (var (s, e) in block.Ranges) if (start + s < to && start + e > from) return true;
        return false;
    }

    /// <summary>Reads committed bytes of <paramref name="extents"/> (each wholly inside <paramref name="into"/>'s range from <paramref name="offset"/>).</summary>
    public FsError ReadCommitted(IReadOnlyList<Extent> extents, long offset, Span<byte> into)
    {
        foreach (var e in extents)
        {
            var loaded = LoadExtent(e, into.Slice((int)(e.Offset - offset), (int)e.Length));
            if (loaded != FsError.None) return loaded;
        }
        return FsError.None;
    }

    /// <summary>The chunks of every file's extents that are stored but not committed yet, in a new set the caller may add to.</summary>
    public HashSet<ChunkId> StagedChunks()
    {
        var chunks = new HashSet<ChunkId>();
        foreach (var staged in _staged.Values)
        {
            lock (staged.Gate)
            {
                staged.Reap();
                foreach (var e in staged.Pending)
                {
                    if (e.Inline is null) chunks.Add(e.Chunk);
                }
                // Blocks stored behind a failed one stay in flight until it is retried, but their chunks exist.
                foreach (var sealing in staged.InFlight)
                {
                    if (!sealing.Work.IsCompletedSuccessfully) continue;
                    foreach (var e in sealing.Work.Result.Extents)
                    {
                        if (e.Inline is null) chunks.Add(e.Chunk);
                    }
                }
            }
        }
        return chunks;
    }

    /// <summary>The error that keeps a block of <paramref name="ino"/> from being stored, and the bytes it holds in memory.</summary>
    public (FsError Error, long Bytes) Failure(ulong ino)
    {
        if (!_staged.TryGetValue(ino, out var staged)) return (FsError.None, 0);
        lock (staged.Gate)
        {
            var error = staged.Error;
            if (error == FsError.None) return (error, 0);
            var bytes = staged.InFlight.Sum(f => f.Block.Ranges.Sum(r => (long)(r.End - r.Start)))
                + staged.Blocks.Values.Sum(b => b.Ranges.Sum(r => (long)(r.End - r.Start)));
            return (error, bytes);
        }
    }
}

/// <summary>
/// One commit of a file's pending extents: the mutation, how many pending extents it took (<see cref="Cut"/>: all but
/// their parts at or past it), the size it claims in this node's frame, and the generation it was taken at.
/// </summary>
internal readonly record struct NextCommit(WriteExtents Mutation, int Count, long Cut, long Claimed, long Generation);
