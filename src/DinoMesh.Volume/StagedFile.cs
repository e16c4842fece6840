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

    public bool IsClean => Blocks.Count == 0 && Pending.Count == 0 && InFlight.Count == 0 && End == 0;

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

    /// <summary>Forgets the first <paramref name="count"/> pending extents (they were committed).</summary>
    public void RemoveCommitted(int count)
    {
        Pending.RemoveRange(0, Math.Min(count, Pending.Count));
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
