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
    private readonly ILogger _logger;
    private Task? _worker;

    public CacheInvalidator(ILogger logger) => _logger = logger;

    public void Start(IFuseNotifier notifier) => _worker = Task.Run(() => RunAsync(notifier));

    public void Enqueue(Effect effect) => _queue.Writer.TryWrite(effect);

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
                    var name = change.Name.ToBytes();
                    if (LastLinkGone(effect, change)) notifier.Delete(change.Parent, change.OldChild, name);
                    else notifier.InvalidateEntry(change.Parent, name);
                }
                foreach (var ino in effect.ContentChanged) notifier.InvalidateInode(ino, 0, -1);
                foreach (var ino in effect.Touched.Except(effect.ContentChanged)) notifier.InvalidateInode(ino, -1, 0);
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "cache invalidation failed");
            }
        }
    }
}
