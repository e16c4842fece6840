using System.Collections.Concurrent;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using Microsoft.Extensions.Logging;
using FileAttributes = DinoMesh.Fuse.FileAttributes;

namespace DinoMesh.Volume;

/// <summary>
/// The DinoMesh volume as the FUSE layer sees it: every metadata change becomes one mutation committed through
/// <see cref="IMetadataCommitter"/>; file contents go through <see cref="FileContents"/>. Errors leave here as errno.
/// Operations on an inode that no longer exists answer ESTALE; a missing name, or a name in a directory removed
/// elsewhere, answers ENOENT.
/// </summary>
public sealed partial class DinoFileSystem : FuseFileSystemBase
{
    private readonly IMetadataCommitter _meta;
    private readonly FileContents _contents;
    private readonly ChunkAccess _chunks;
    private readonly FreeSpaceGauge _freeSpace;
    private readonly MutationClock _clock;
    private readonly VolumeOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ulong, OpenHandle> _handles = new();
    private readonly ConcurrentDictionary<ulong, int> _openCounts = new();

    /// <summary>Orders an open's check of a file's last name against a release of orphans picking what is not open here.</summary>
    private readonly Lock _openGate = new();
    private readonly OpenDirectories _openDirectories = new();
    private readonly CacheInvalidator _invalidator;
    private readonly ChangedElsewhere _changedElsewhere = new();
    private readonly SizeRefreshes _sizeRefreshes = new();
    private readonly AccessTimes _atimes;
    private readonly CancellationTokenSource _stopping = new();
    private IFuseNotifier? _notifier;
    private readonly LookupAnswers _lookupAnswers = new(TimeProvider.System);
    private readonly KernelInodes _kernelInodes = new();
    private readonly DirectoryAttributes _directoryAttributes = new();
    private readonly NegativeAnswers _negativeAnswers;
    private readonly OrphanReleases _orphanReleases;
    private readonly Compactor _compactor;
    private Task? _atimeFlusher;
    private long _nextHandle;

    public DinoFileSystem(IMetadataCommitter meta, ChunkAccess chunks, MutationClock clock, VolumeOptions options, ILogger logger)
    {
        _meta = meta;
        _chunks = chunks;
        _freeSpace = new FreeSpaceGauge(chunks.Capacity, FreeSpaceGauge.DefaultMaxAge, TimeProvider.System);
        _clock = clock;
        _options = options;
        _logger = logger;
        _contents = new FileContents(chunks, options, CommitInBackgroundAsync, logger);
        _negativeAnswers = new NegativeAnswers(options.EntryTimeout, TimeProvider.System);
        _invalidator = new CacheInvalidator(logger, _lookupAnswers, _kernelInodes, _negativeAnswers, _directoryAttributes);
        _atimes = new AccessTimes(options.Atime);
        _orphanReleases = new OrphanReleases(ReleaseUnheldAsync, options.OrphanReleaseLinger, TimeProvider.System);
        _compactor = new Compactor(() => _meta.Current, _contents, chunks, (kind, ct) => CommitAsync(kind, 0, 0, ct), options, logger,
            _freeSpace.Free);
        _meta.AppliedRemotely += OnAppliedRemotely;
    }

    /// <summary>What background compaction did since start.</summary>
    public CompactionCounts Compaction => _compactor.Counts;

    private sealed record OpenHandle(ulong Ino, int Flags)
    {
        /// <summary>Directories: the listing as of opendir/rewinddir, so offsets stay stable while it changes.</summary>
        public (byte[] Name, ulong Ino)[]? Listing { get; set; }

        /// <summary>
        /// The error of this handle's last FLUSH (a close that could not commit), or None. Its RELEASE then does not
        /// try the commit again (see <c>ReleaseAsync</c>).
        /// </summary>
        public FsError FailedFlush { get; set; }
    }

    public override void Mounted(IFuseNotifier notifier)
    {
        _notifier = notifier;
        _invalidator.Start(notifier);
        _atimeFlusher = Task.Run(() => FlushAtimesPeriodicallyAsync(_stopping.Token));
        // Blocks left fragmented when the node last stopped: looked for in the background, after the start.
        _compactor.ScanAfterStart(_meta.Self);
    }

    public override void Unmounted()
    {
        _invalidator.Stop();
        _stopping.Cancel();
        _compactor.Stop();
        // The last recorded reads are committed while the committer still runs (it is closed after the mount).
        try
        {
            _atimeFlusher?.Wait(_options.AtimeFlushInterval + TimeSpan.FromSeconds(5));
            FlushAtimesAsync(null, CancellationToken.None).AsTask().Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException e)
        {
            _logger.LogWarning(e.InnerException, "committing access times at unmount failed");
        }
    }

    /// <summary>
    /// Releases the orphans this node was holding when it last stopped (it holds nothing open now): files whose last
    /// link went away while they were open here.
    /// </summary>
    public async ValueTask ReclaimOrphansAsync(CancellationToken cancellationToken)
    {
        var mine = _meta.Current.Orphans.Where(o => o.Value.Contains(_meta.Self)).Select(o => o.Key).ToArray();
        if (mine.Length == 0) return;
        await _clock.CommitAsync(_meta, new ReleaseOrphans(mine), 0, 0, cancellationToken);
    }

    private ValueTask<ApplyResult> CommitAsync(FuseContext ctx, MutationKind kind, long timeNs = 0, uint[]? groups = null) =>
        CommitAsync(kind, ctx.Uid, ctx.Gid, ctx.Cancellation, timeNs, groups);

    private async ValueTask<ApplyResult> CommitAsync(MutationKind kind, uint uid, uint gid, CancellationToken cancellationToken, long timeNs = 0, uint[]? groups = null)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = await _clock.CommitAsync(_meta, kind, uid, gid, cancellationToken, timeNs, groups);
        VolumeMetrics.Committed(result, started);
        Written(kind, result);
        if (!result.Ok && result.Error is not (FsError.NoEntry or FsError.Exists or FsError.NotEmpty))
        {
            _logger.LogDebug("{Kind} refused: {Error}", kind.GetType().Name, result.Error);
        }
        return result;
    }

    private async ValueTask<FsError> SyncAsync(CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var error = await _meta.SyncAsync(cancellationToken);
        VolumeMetrics.Synced(started);
        return error;
    }

    /// <summary>
    /// Waits (at most <paramref name="bound"/>) until the kernel has been told of every change applied here so far that
    /// another node made; true when it has. What this node reports as applied (<c>dino-node status</c>) is visible
    /// through its mount only after this (see <see cref="CacheInvalidator.WaitWrittenAsync"/>).
    /// </summary>
    public ValueTask<bool> WaitForInvalidationsAsync(TimeSpan bound, CancellationToken cancellationToken) =>
        _invalidator.WaitWrittenAsync(bound, cancellationToken);

    /// <summary>A change another node made: drop what the kernel cached of it, and release orphans not open here.</summary>
    private void OnAppliedRemotely(ApplyResult result)
    {
        _invalidator.Enqueue(result.Effect);
        foreach (var ino in result.Effect.ContentChanged) _changedElsewhere.Add(ino);
        foreach (var ino in result.Effect.Touched) _changedElsewhere.Add(ino);
        foreach (var ino in result.Effect.Removed)
        {
            _contents.Discard(ino);
            // A directory open here answers fstat from its last attributes (OpenDirectories.Gone); no atime is due.
            if (_openDirectories.IsOpen(ino)) _atimes.Forget(ino);
        }
        if (result.Effect.Orphaned.Count > 0) _orphanReleases.Add(result.Effect.Orphaned);
    }

    /// <summary>
    /// At open, after the read barrier: if the file changed elsewhere since it was last opened here, the kernel forgets
    /// its cached attributes now, before the open is answered. The invalidation queued when the change was applied
    /// does not cover this: it runs on its own task (it may still be queued), and it finds nothing to invalidate when
    /// the kernel was just learning the inode from a lookup answered before the change — the lookup's reply then
    /// caches the old size. (Attributes only: that never waits for a lock the open holds.) True when it did.
    /// </summary>
    private bool ForgetIfChangedElsewhere(ulong ino)
    {
        if (!_changedElsewhere.TryTake(ino)) return false;
        _notifier?.InvalidateInode(ino, -1, 0);
        return true;
    }

    /// <summary>
    /// Releases, in one mutation, those of <paramref name="inos"/> that wait on this node and are not open here (one
    /// still open is released at its last close). Never throws: a failure is logged.
    /// </summary>
    private async Task ReleaseUnheldAsync(ulong[] inos)
    {
        var release = UnheldOrphans(inos);
        if (release.Length == 0) return;
        foreach (var ino in release) _contents.Discard(ino);
        try
        {
            await CommitAsync(new ReleaseOrphans(release), 0, 0, CancellationToken.None);
        }
        catch (Exception e)
        {
            // Released again at the next start; until then the orphan only costs space.
            _logger.LogWarning("releasing orphans {Inos} failed: {Error}", string.Join(",", release), e.Message);
        }
    }

    /// <summary>A commit no request waits for (staged writes that piled up): stamped as the node itself.</summary>
    private async ValueTask<FsError> CommitInBackgroundAsync(MutationKind kind)
    {
        var result = await _clock.CommitAsync(_meta, kind, 0, 0, CancellationToken.None);
        Written(kind, result);
        return result.Error;
    }

    /// <summary>A write this node committed: the compactor looks at the blocks it left fragmented, later, on its own task.</summary>
    private void Written(MutationKind kind, ApplyResult result)
    {
        if (kind is not WriteExtents write || !result.Ok || result.Effect.Duplicate) return;
        if (result.Effect.AppendShift != 0) AppendLanded(write.Ino);
        _compactor.Written(write.Moved(result.Effect.AppendShift), result.State);
    }

    /// <summary>
    /// This node's append landed elsewhere than it was staged (another node's append, or a truncate, came first in the
    /// log; <see cref="WriteExtents.AppendedAt"/>): the kernel here holds its pages and its size of the file as staged.
    /// Both are dropped, as for a change another node made.
    /// </summary>
    private void AppendLanded(ulong ino) =>
        _invalidator.Enqueue(new Effect { Ino = ino, Touched = [ino], ContentChanged = [ino] });

    private static int Errno(FsError error) => (int)error;

    private FileAttributes Attributes(Inode inode)
    {
        var size = inode.IsRegular ? _contents.VisibleSize(inode)
            : inode.IsDirectory ? 4096
            : inode.SymlinkTarget?.Length ?? 0;
        var allocated = inode.IsRegular ? Math.Max(inode.Extents.AllocatedBytes, size - inode.Size) : inode.IsDirectory ? 4096 : 0;
        var (aSec, aNsec) = Split(_atimes.Effective(inode));
        var (mSec, mNsec) = Split(inode.MTime);
        var (cSec, cNsec) = Split(inode.CTime);
        return new FileAttributes
        {
            Ino = inode.Ino,
            Size = (ulong)size,
            Blocks = (ulong)((allocated + 511) / 512),
            ATimeSec = aSec,
            ATimeNsec = aNsec,
            MTimeSec = mSec,
            MTimeNsec = mNsec,
            CTimeSec = cSec,
            CTimeNsec = cNsec,
            Mode = inode.Mode,
            NLink = inode.NLink,
            Uid = inode.Uid,
            Gid = inode.Gid,
            RDev = inode.RDev,
            BlkSize = _options.PreferredIoSize,
        };
    }

    private static (long Sec, uint Nsec) Split(long ns)
    {
        var sec = Math.DivRem(ns, 1_000_000_000L, out var rem);
        if (rem < 0)
        {
            sec--;
            rem += 1_000_000_000L;
        }
        return (sec, (uint)rem);
    }

    private static long Join(long sec, uint nsec) => sec * 1_000_000_000L + nsec;

    private EntryReply Entry(Inode inode)
    {
        _kernelInodes.Given(inode.Ino);
        if (inode.IsDirectory) _directoryAttributes.Given(inode.Ino);
        _lookupAnswers.Answered(inode.Ino);
        // Read again now that the inode counts as given (a full fence: ConcurrentDictionary's lock): a change applied
        // before this read is in the reply, and one applied after it sees the inode as given and is invalidated (see
        // CacheInvalidator.Enqueue). Without this, a change applied between the caller's read and Given would find the
        // inode not given, skip its invalidation, and the reply would cache the old attributes.
        var current = _meta.Current.Find(inode.Ino) ?? inode;
        return new(current.Ino, 0, Attributes(current), _options.EntryTimeout, _options.AttrTimeout);
    }

    /// <summary>The kernel gave back lookups of <paramref name="ino"/>: once none are left, it caches nothing of it.</summary>
    public override void Forget(ulong ino, ulong nlookup)
    {
        if (_kernelInodes.Forgotten(ino, nlookup)) _directoryAttributes.Forgotten(ino);
    }

    private EntryReply NegativeEntry() => new(0, 0, default, _options.EntryTimeout, TimeSpan.Zero);

    private static FuseResult<T> Fail<T>(FsError error) => FuseResult<T>.Fail(Errno(error));

    private OpenHandle? Handle(ulong fh) => _handles.GetValueOrDefault(fh);

    private ulong AddHandle(OpenHandle handle)
    {
        var fh = (ulong)Interlocked.Increment(ref _nextHandle);
        _handles[fh] = handle;
        return fh;
    }

    private void Opened(ulong ino) => _openCounts.AddOrUpdate(ino, 1, static (_, n) => n + 1);

    /// <summary>
    /// Counts an open of <paramref name="ino"/>, unless its last name is gone (another node removed it or renamed over
    /// it) and nothing here holds it open: then false, and the open answers ESTALE, so the kernel, which reached the
    /// file through a name it still had cached, looks the name up again (ENOENT, or the file that replaced it), as an
    /// open that began after the removal must. Decided under <see cref="_openGate"/>, where the releases of orphans
    /// pick theirs: an orphan a release took can no longer be opened here, and one opened here is not taken (opened
    /// between the pick and its commit, the file went with the commit and every read answered ESTALE).
    /// </summary>
    private bool TryOpened(ulong ino)
    {
        lock (_openGate)
        {
            var current = _meta.Current;
            if (current.Find(ino) is null || (!IsOpen(ino) && current.Orphans.ContainsKey(ino))) return false;
            Opened(ino);
            return true;
        }
    }

    /// <summary>Those of <paramref name="inos"/> that wait on this node and are not open here, which nothing here can open from now on.</summary>
    private ulong[] UnheldOrphans(IEnumerable<ulong> inos)
    {
        lock (_openGate)
        {
            var orphans = _meta.Current.Orphans;
            return [.. inos.Where(i => !IsOpen(i) && orphans.TryGetValue(i, out var holders) && holders.Contains(_meta.Self))];
        }
    }

    private bool IsOpen(ulong ino) => _openCounts.TryGetValue(ino, out var n) && n > 0;

    private async ValueTask ClosedAsync(FuseContext ctx, ulong ino, FsError flushError = FsError.None)
    {
        var left = _openCounts.AddOrUpdate(ino, 0, static (_, n) => Math.Max(0, n - 1));
        if (left == 0)
        {
            _openCounts.TryRemove(new KeyValuePair<ulong, int>(ino, 0));
            DropUnstorable(ino);
            if (flushError != FsError.None) await DropUncommittedAsync(ino, flushError);
            await ReclaimIfOrphanAsync(ctx, ino);
        }
    }

    /// <summary>
    /// The last handle is closed and its flush failed to commit (ETIMEDOUT on a minority side, ENOSPC from a full log):
    /// the close reported it, and no one is left to flush again. The staged bytes would otherwise stay in this node's
    /// memory for ever, read here (reads merge staged bytes) and nowhere else, and be lost at the next restart: after
    /// a partition healed, this mount kept showing a file's 64 KiB while the two others, at the same state hash, showed
    /// it empty (load/nemesis.py, seed 1). So they are given up, and the kernel's cached pages with them, and the file
    /// reads as what is committed, here as on every node. (If the timed-out commit did land after all, it arrives
    /// through the log like any other node's change.)
    /// </summary>
    private async ValueTask DropUncommittedAsync(ulong ino, FsError error)
    {
        if (!_contents.HasStaged(ino)) return;
        _logger.LogWarning("inode {Ino}: the last close could not commit its writes ({Error}); they are dropped and the file keeps its committed content", ino, error);
        await _contents.DiscardAfterCommitsAsync(ino);
        _invalidator.Enqueue(new Effect { Ino = ino, Touched = [ino], ContentChanged = [ino] });
    }

    /// <summary>
    /// The last handle is closed and a block of the file still cannot be stored: every close and fsync has reported
    /// it, and no one is left to retry. Its bytes are given up, and the kernel's cached pages of them with it, so the
    /// file reads as what is committed (what a restart would show), not as bytes that exist nowhere.
    /// </summary>
    private void DropUnstorable(ulong ino)
    {
        var (error, bytes) = _contents.Failure(ino);
        if (error == FsError.None) return;
        _logger.LogWarning("inode {Ino}: {Bytes} written bytes could not be stored ({Error}) and are dropped at the last close; the file keeps its committed content", ino, bytes, error);
        _contents.Discard(ino);
        _invalidator.Enqueue(new Effect { Ino = ino, Touched = [ino], ContentChanged = [ino] });
    }

    /// <summary>The last link is gone and nothing here holds the file open: release it (it goes once nobody holds it).</summary>
    private async ValueTask ReclaimIfOrphanAsync(FuseContext ctx, ulong ino)
    {
        if (ino == 0 || UnheldOrphans([ino]).Length == 0) return;
        _contents.Discard(ino);
        await CommitAsync(ctx, new ReleaseOrphans([ino]));
    }
}
