using System.Threading.Channels;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Volume;

/// <summary>
/// Tells the kernel to forget what a change made elsewhere made stale. Runs on its own task and never under a lock:
/// the kernel may call back into the filesystem before it answers a notification.
/// </summary>
internal sealed class CacheInvalidator
{
    private readonly Channel<Effect> _queue = Channel.CreateUnbounded<Effect>(new UnboundedChannelOptions { SingleReader = true });
    /// <summary>
    /// When to say an invalidation again that may have raced an entry reply (see <see cref="LookupAnswers"/>). The
    /// kernel usually builds the inode from the reply within a millisecond, so the first retry comes that soon: a lost
    /// invalidation then leaves the old size visible for about a millisecond, not 20 (the first retry used to be at 20 ms).
    /// </summary>
    internal static readonly TimeSpan[] RetryAfter =
        [TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(200)];

    private readonly ILogger _logger;
    private readonly LookupAnswers _answers;
    private readonly KernelInodes _kernel;
    private readonly NegativeAnswers _negatives;
    private readonly DirectoryAttributes _directories;
    private Task? _worker;
    private long _queued;
    private long _written;

    public CacheInvalidator(ILogger logger, LookupAnswers answers, KernelInodes kernel, NegativeAnswers negatives, DirectoryAttributes directories)
    {
        _logger = logger;
        _answers = answers;
        _kernel = kernel;
        _negatives = negatives;
        _directories = directories;
    }

    public void Start(IFuseNotifier notifier) => _worker = Task.Run(() => RunAsync(notifier));

    /// <summary>
    /// Queues what a change made stale, unless the kernel holds none of it (an inode it was never given, names under a
    /// directory it does not hold): then there is nothing to say and no thread to wake. Called after the change's state
    /// was published; the fence pairs with the one in <see cref="KernelInodes.Given"/>, so a reply made concurrently
    /// either was read from the new state or counts here as given.
    /// </summary>
    public void Enqueue(Effect effect)
    {
        Interlocked.MemoryBarrier();
        if (!MayConcernKernel(effect)) return;
        Interlocked.Increment(ref _queued);
        _queue.Writer.TryWrite(effect);
    }

    /// <summary>Effects queued for the worker, each a wake-up of it (diagnostics, tests).</summary>
    internal long Queued => Interlocked.Read(ref _queued);

    /// <summary>Effects the worker is done with: their notifications were written to the kernel (or failed).</summary>
    internal long Written => Interlocked.Read(ref _written);

    /// <summary>
    /// Waits until every effect queued before the call has been said to the kernel, polling each millisecond for at
    /// most <paramref name="bound"/>; true when it has. A version is visible through the mount only then: until the
    /// worker writes an effect's notifications, the kernel may still answer from what the change made stale (a
    /// negative dentry of a name just created, a dentry of one just removed) without asking this node.
    /// </summary>
    public async ValueTask<bool> WaitWrittenAsync(TimeSpan bound, CancellationToken cancellationToken)
    {
        var target = Queued;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Written < target)
        {
            if (clock.Elapsed >= bound) return false;
            await Task.Delay(1, cancellationToken);
        }
        return true;
    }

    /// <summary>
    /// The worker's own tests, made before it is woken: a follower of a busy writer would otherwise wake it for every
    /// file created in a directory its kernel holds, to find the new name was never answered absent here.
    /// </summary>
    private bool MayConcernKernel(Effect effect)
    {
        foreach (var change in effect.Entries) if (MayHoldEntry(change)) return true;
        foreach (var ino in effect.ContentChanged) if (_kernel.MayHold(ino)) return true;
        foreach (var ino in effect.Touched) if (_kernel.MayHold(ino) && _directories.MayBeCached(ino)) return true;
        return false;
    }

    /// <summary>
    /// The kernel may cache what <paramref name="change"/> made stale: the name under a directory it holds, and for a
    /// name that was not there before, only as absent, which it keeps only from an answer of ours within the entry
    /// timeout (NegativeAnswers: recorded before that answer, which reads the tree again after it, so a change published
    /// before this look either is in the answer or finds the name recorded).
    /// </summary>
    private bool MayHoldEntry(EntryChange change) =>
        _kernel.MayHold(change.Parent) && (change.OldChild != 0 || _negatives.MayHold(change.Parent, change.Name));

    public void Stop() => _queue.Writer.TryComplete();

    /// <summary>
    /// A name whose inode left the tree with it. Only then may the kernel hear "deleted": that clears the link count of
    /// its cached inode, and an inode with no links is evicted as soon as its last dentry goes. An inode renamed away
    /// or still linked elsewhere must stay cached, or the next lookup builds a fresh inode — and an invalidation that
    /// arrives while that lookup's answer is on its way finds nothing to invalidate, so the old size stays cached for
    /// the attribute timeout.
    /// </summary>
    internal static bool LastLinkGone(Effect effect, EntryChange change) =>
        change.OldChild != 0 && change.NewChild == 0 &&
        (effect.Removed.Contains(change.OldChild) || effect.Orphaned.Contains(change.OldChild));

    private async Task RunAsync(IFuseNotifier notifier)
    {
        await foreach (var effect in _queue.Reader.ReadAllAsync())
        {
            try
            {
                foreach (var change in effect.Entries)
                {
                    if (!MayHoldEntry(change)) continue;
                    var name = change.Name.ToBytes();
                    if (LastLinkGone(effect, change)) notifier.Delete(change.Parent, change.OldChild, name);
                    else notifier.InvalidateEntry(change.Parent, name);
                }
                List<(ulong Ino, long Offset, long Length)>? again = null;
                foreach (var ino in effect.ContentChanged) Invalidate(notifier, ino, 0, -1, ref again);
                foreach (var ino in effect.Touched.Except(effect.ContentChanged))
                {
                    // A directory whose attributes were invalidated and not given since needs no second invalidation.
                    if (_directories.TakeForInvalidation(ino)) Invalidate(notifier, ino, -1, 0, ref again);
                }
                if (again is not null) _ = RetryAsync(notifier, again);
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "cache invalidation failed");
            }
            finally
            {
                Interlocked.Increment(ref _written);
            }
        }
    }

    private void Invalidate(IFuseNotifier notifier, ulong ino, long offset, long length, ref List<(ulong, long, long)>? again)
    {
        if (!_kernel.MayHold(ino)) return;
        if (notifier.InvalidateInode(ino, offset, length) == Errno.ENOENT && _answers.AnsweredRecently(ino)) (again ??= []).Add((ino, offset, length));
    }

    /// <summary>
    /// Says the invalidations again once the kernel has built the inodes from the replies in flight. Harmless when the
    /// first one was not lost: the kernel then rereads attributes it had just read.
    /// </summary>
    private async Task RetryAsync(IFuseNotifier notifier, List<(ulong Ino, long Offset, long Length)> again)
    {
        try
        {
            var waited = TimeSpan.Zero;
            foreach (var after in RetryAfter)
            {
                await Task.Delay(after - waited);
                waited = after;
                foreach (var (ino, offset, length) in again) notifier.InvalidateInode(ino, offset, length);
            }
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "cache invalidation failed");
        }
    }
}
