using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

/// <summary>What one block handed to a worker became: its extents, or the error that kept it from being stored.</summary>
internal readonly record struct SealResult(FsError Error, List<Extent> Extents);

/// <summary>
/// A block being turned into chunks. Its buffer stays readable until the result is reaped; a block that could not be
/// stored keeps its buffer (and its place in the write order) until a retry stores it or the bytes are discarded.
/// </summary>
internal sealed record Sealing(DirtyBlock Block, Task<SealResult> Work)
{
    public bool Failed => Work.IsCompletedSuccessfully && Work.Result.Error != FsError.None;
}

/// <summary>
/// What one file has that is not committed yet, oldest first: <see cref="Pending"/> extents (stored as chunks or
/// inline, waiting for a commit), then <see cref="InFlight"/> blocks (being stored, or failed to be), then dirty
/// <see cref="Blocks"/>. Later layers win over earlier ones. Every member is used under <see cref="Gate"/>.
/// </summary>
internal sealed class StagedFile
{
    public readonly Lock Gate = new();

    /// <summary>One commit of this file at a time, so two flushes (or a flush and a background commit) commit in write order.</summary>
    public readonly SemaphoreSlim CommitGate = new(1, 1);

    public readonly SortedDictionary<long, DirtyBlock> Blocks = [];

    /// <summary>Oldest first. A failed block stays at the head: nothing newer is reaped past it (see <see cref="Reap"/>).</summary>
    public readonly List<Sealing> InFlight = [];

    /// <summary>The extents of the next commit, oldest first (order matters: later writes win).</summary>
    public readonly List<Extent> Pending = [];

    /// <summary>
    /// The same extents laid over each other: what a read consults, in O(log n), instead of laying every pending
    /// extent over a copy of the committed map on each read.
    /// </summary>
    public ExtentMap PendingMap { get; private set; } = ExtentMap.Empty;

    /// <summary>The end of the furthest pending extent: the size a commit of <see cref="Pending"/> may claim.</summary>
    public long PendingEnd { get; private set; }

    /// <summary>Largest offset written since the last commit (what a reader on this node sees as the size).</summary>
    public long End;

    public long LastWriteNs;

    /// <summary>
    /// Moves on at every truncate, which changes <see cref="Pending"/> in place: a commit that captured the extents
    /// before it must not then remove "the first n" of a list that is no longer the one it committed.
    /// </summary>
    public long Generation;

    /// <summary>A background commit of <see cref="Pending"/> is queued or running.</summary>
    public bool BackgroundCommit;

    /// <summary>No longer in the table (flushed clean, or discarded): a writer that raced with that must look again.</summary>
    public bool Detached;

    /// <summary>
    /// Where the uncommitted O_APPEND run starts, as this node took the end of the file to be (null: none). Its bytes
    /// are staged from here to <see cref="AppendEnd"/>, one after the other, and committed with
    /// <see cref="WriteExtents.AppendedAt"/> = this, so they land at the end of the file as the log orders it: they
    /// are laid in this node's frame and moved at apply (see docs/architecture.md, "Where an O_APPEND write lands").
    /// </summary>
    public long? AppendFrom;

    /// <summary>Where the next append of this run lands in this node's frame: the end of the run.</summary>
    public long AppendEnd;

    /// <summary>
    /// Appends of the run that cross a block boundary. A commit of the sealed blocks only (a background one, or one that
    /// raced with a write) must not cut one of them in two: the two parts would move apart if another node's append
    /// came between their commits (a torn line). So such a commit stops at the start of the append it would cut.
    /// </summary>
    public readonly List<ByteRange> AppendCrossings = [];

    public bool IsClean => Blocks.Count == 0 && Pending.Count == 0 && InFlight.Count == 0 && End == 0;

    /// <summary>Where a commit of the pending extents must stop so as not to cut an append in two (long.MaxValue: nowhere).</summary>
    public long AppendCut()
    {
        var cut = long.MaxValue;
        foreach (var c in AppendCrossings)
        {
            if (c.Offset < PendingEnd && PendingEnd < c.End) cut = Math.Min(cut, c.Offset);
        }
        return cut;
    }

    /// <summary>An append of <paramref name="length"/> bytes staged at <paramref name="offset"/>, the end of the run.</summary>
    public void Appended(long offset, long length, long blockSize)
    {
        AppendFrom ??= offset;
        AppendEnd = Math.Max(AppendEnd, offset + length);
        if (length > 0 && offset / blockSize != (offset + length - 1) / blockSize) AppendCrossings.Add(new ByteRange(offset, length));
    }

    /// <summary>
    /// A commit of the run's bytes up to <paramref name="claimed"/> (this node's frame) landed: the run ends there, or
    /// what is left of it starts there (it moves by as much as the part committed, or further if another node's append
    /// came between).
    /// </summary>
    public void AppendCommitted(long claimed)
    {
        if (AppendFrom is not { } from || claimed <= from) return;
        if (AppendEnd <= claimed)
        {
            EndAppendRun();
            return;
        }
        AppendFrom = claimed;
        AppendCrossings.RemoveAll(c => c.End <= claimed);
    }

    /// <summary>Bytes at or past <paramref name="size"/> are gone (truncate): so is that part of the run.</summary>
    public void AppendTruncated(long size)
    {
        if (AppendFrom is not { } from) return;
        if (size <= from)
        {
            EndAppendRun();
            return;
        }
        AppendEnd = Math.Min(AppendEnd, size);
        AppendCrossings.RemoveAll(c => c.End > size);
    }

    public void EndAppendRun()
    {
        AppendFrom = null;
        AppendEnd = 0;
        AppendCrossings.Clear();
    }

    /// <summary>
    /// The error of a block that could not be stored, or <see cref="FsError.None"/>. It sticks: every write, flush and
    /// fsync reports it until a retry stores the block or the bytes are discarded (truncate, unlink, last close).
    /// </summary>
    public FsError Error => InFlight.Count > 0 && InFlight[0].Failed ? InFlight[0].Work.Result.Error : FsError.None;

    /// <summary>
    /// Moves finished blocks, oldest first, into the pending extents. Stops at a block that failed: the extents of
    /// newer blocks must not be committed ahead of it, or a commit could claim a size over bytes that exist only in
    /// memory (a hole that reads as zeros after a restart).
    /// </summary>
    public void Reap()
    {
        while (InFlight.Count > 0 && InFlight[0].Work.IsCompleted && !InFlight[0].Failed)
        {
            var (block, work) = InFlight[0];
            InFlight.RemoveAt(0);
            foreach (var extent in work.Result.Extents) AddPending(extent);
            block.Dispose();
        }
    }

    /// <summary>
    /// Tries once more to store the failed block at the head (and any failed block behind it), with
    /// <paramref name="seal"/> on this thread. True when nothing failed is left.
    /// </summary>
    public bool Retry(Func<DirtyBlock, SealResult> seal)
    {
        while (Error != FsError.None)
        {
            var head = InFlight[0];
            var result = seal(head.Block);
            InFlight[0] = head with { Work = Task.FromResult(result) };
            if (result.Error != FsError.None) return false;
            Reap();
        }
        return true;
    }

    private void AddPending(Extent extent)
    {
        Pending.Add(extent);
        PendingMap = PendingMap.Write(extent);
        PendingEnd = Math.Max(PendingEnd, extent.End);
    }

    /// <summary>
    /// Forgets the first <paramref name="count"/> pending extents (they were committed), but for their parts at or past
    /// <paramref name="cut"/>, which the commit left out (see <see cref="AppendCut()"/>) and which stay first in line.
    /// </summary>
    public void RemoveCommitted(int count, long cut = long.MaxValue)
    {
        count = Math.Min(count, Pending.Count);
        var kept = cut == long.MaxValue ? [] : Pending.Take(count).Select(e => e.Clip(cut, long.MaxValue)).OfType<Extent>().ToList();
        Pending.RemoveRange(0, count);
        Pending.InsertRange(0, kept);
        RebuildPendingMap();
    }

    /// <summary>Forgets the pending bytes in [<paramref name="from"/>, <paramref name="to"/>) (committed, though the list changed since).</summary>
    public void ForgetPending(long from, long to)
    {
        var kept = new List<Extent>(Pending.Count);
        foreach (var e in Pending)
        {
            if (e.Clip(0, from) is { } below) kept.Add(below);
            if (e.Clip(to, long.MaxValue) is { } above) kept.Add(above);
        }
        Pending.Clear();
        Pending.AddRange(kept);
        RebuildPendingMap();
    }

    public void RebuildPendingMap()
    {
        PendingMap = ExtentMap.Empty;
        PendingEnd = 0;
        foreach (var extent in Pending)
        {
            PendingMap = PendingMap.Write(extent);
            PendingEnd = Math.Max(PendingEnd, extent.End);
        }
    }

    /// <summary>Waits for every block in flight and reaps what finished.</summary>
    public void Drain()
    {
        foreach (var sealing in InFlight) sealing.Work.Wait();
        Reap();
    }
}
