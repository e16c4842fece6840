using System.Collections.Concurrent;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Fuse;
using Microsoft.Extensions.Logging;
using FileAttributes = DinoMesh.Fuse.FileAttributes;

namespace DinoMesh.Volume;

/// <summary>
/// The DinoMesh volume as the FUSE layer sees it: every metadata change becomes one mutation committed through
/// <see cref="IMetadataCommitter"/>; file contents go through <see cref="FileContents"/>. Errors leave here as errno.
/// Operations on an inode that no longer exists answer ESTALE; a missing name answers ENOENT.
/// </summary>
public sealed partial class DinoFileSystem : FuseFileSystemBase
{
    private readonly IMetadataCommitter _meta;
    private readonly FileContents _contents;
    private readonly ChunkAccess _chunks;
    private readonly MutationClock _clock;
    private readonly VolumeOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ulong, OpenHandle> _handles = new();
    private readonly ConcurrentDictionary<ulong, int> _openCounts = new();
    private readonly CacheInvalidator _invalidator;
    private long _nextHandle;

    public DinoFileSystem(IMetadataCommitter meta, ChunkAccess chunks, MutationClock clock, VolumeOptions options, ILogger logger)
    {
        _meta = meta;
        _chunks = chunks;
        _clock = clock;
        _options = options;
        _logger = logger;
        _contents = new FileContents(chunks, options, CommitInBackgroundAsync, logger);
        _invalidator = new CacheInvalidator(logger);
        _meta.AppliedRemotely += result => _invalidator.Enqueue(result.Effect);
    }

    private sealed record OpenHandle(ulong Ino, int Flags)
    {
        /// <summary>Directories: the listing as of opendir/rewinddir, so offsets stay stable while it changes.</summary>
        public (byte[] Name, ulong Ino)[]? Listing { get; set; }
    }

    public override void Mounted(IFuseNotifier notifier) => _invalidator.Start(notifier);

    public override void Unmounted() => _invalidator.Stop();

    /// <summary>Drops files whose last link went away while they were open when the node last stopped.</summary>
    public async ValueTask ReclaimOrphansAsync(CancellationToken cancellationToken)
    {
        foreach (var inode in _meta.Current.Inodes.Values.Where(i => i.NLink == 0 && !i.IsDirectory).ToList())
        {
            await _meta.CommitAsync(_clock.Stamp(new Mutation { Reclaim = new Reclaim { Ino = inode.Ino } }, 0, 0), cancellationToken);
        }
    }

    private async ValueTask<ApplyResult> CommitAsync(FuseContext ctx, Mutation mutation)
    {
        var result = await _meta.CommitAsync(_clock.Stamp(mutation, ctx.Uid, ctx.Gid), ctx.Cancellation);
        if (!result.Ok && result.Error is not (FsError.NoEntry or FsError.Exists or FsError.NotEmpty))
        {
            _logger.LogDebug("{Kind} refused: {Error}", mutation.KindCase, result.Error);
        }
        return result;
    }

    /// <summary>A commit no request waits for (staged writes that piled up): stamped as the node itself.</summary>
    private async ValueTask<FsError> CommitInBackgroundAsync(Mutation mutation) =>
        (await _meta.CommitAsync(_clock.Stamp(mutation, 0, 0), CancellationToken.None)).Error;

    private static int Errno(FsError error) => (int)error;

    private FileAttributes Attributes(Inode inode)
    {
        var size = inode.IsRegular ? _contents.VisibleSize(inode)
            : inode.IsDirectory ? 4096
            : inode.SymlinkTarget?.Length ?? 0;
        var allocated = inode.IsRegular ? Math.Max(inode.Extents.AllocatedBytes, size - inode.Size) : inode.IsDirectory ? 4096 : 0;
        var (aSec, aNsec) = Split(inode.ATime);
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

    private EntryReply Entry(Inode inode) => new(inode.Ino, 0, Attributes(inode), _options.EntryTimeout, _options.AttrTimeout);

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

    private bool IsOpen(ulong ino) => _openCounts.TryGetValue(ino, out var n) && n > 0;

    private async ValueTask ClosedAsync(FuseContext ctx, ulong ino)
    {
        var left = _openCounts.AddOrUpdate(ino, 0, static (_, n) => Math.Max(0, n - 1));
        if (left == 0)
        {
            _openCounts.TryRemove(new KeyValuePair<ulong, int>(ino, 0));
            DropUnstorable(ino);
            await ReclaimIfOrphanAsync(ctx, ino);
        }
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

    /// <summary>The last link is gone and nothing here holds the file open: drop it and its staged data.</summary>
    private async ValueTask ReclaimIfOrphanAsync(FuseContext ctx, ulong ino)
    {
        if (ino == 0 || IsOpen(ino) || _meta.Current.Find(ino) is not { NLink: 0, IsDirectory: false }) return;
        _contents.Discard(ino);
        await CommitAsync(ctx, new Mutation { Reclaim = new Reclaim { Ino = ino } });
    }
}
