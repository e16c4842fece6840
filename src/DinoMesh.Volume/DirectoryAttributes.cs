using System.Collections.Concurrent;

namespace DinoMesh.Volume;

/// <summary>
/// Whether this node's kernel may hold a directory's attributes that a change made elsewhere has made stale. A
/// directory's attributes reach the kernel only in a reply of ours (getattr, setattr, an entry reply, readdirplus); its
/// own operations on a directory invalidate them rather than set them. So once an invalidation of a directory's
/// attributes has been decided, a later change needs none until the kernel has been given them again: a follower of a
/// writer creating files in one directory invalidates that directory once, not once per file.
/// A reply marks the directory before it reads the state it answers from, and the invalidator clears the mark just
/// before it writes the invalidation, after the change was published. A reply that read the old state was therefore
/// marked before that clear, so the invalidation goes out after the kernel sent its request, and the kernel drops an
/// answer older than an invalidation (its attribute version). Files are not tracked: the kernel also changes a file's
/// cached size and times by itself (writeback cache), so each of their changes is still invalidated.
/// </summary>
internal sealed class DirectoryAttributes
{
    // true: given since the last invalidation; false: invalidated, not given since; absent: unknown (invalidate).
    private readonly ConcurrentDictionary<ulong, bool> _given = new();

    /// <summary>A reply carrying the directory's attributes is about to be made: call before reading the state.</summary>
    public void Given(ulong directory)
    {
        _given[directory] = true;
        // Pairs with the fence in CacheInvalidator.Enqueue: the state read after this sees a change published before
        // the invalidator looked, or the invalidator sees this mark.
        Interlocked.MemoryBarrier();
    }

    /// <summary>False only for a directory invalidated since the kernel was last given its attributes.</summary>
    public bool MayBeCached(ulong ino) => !_given.TryGetValue(ino, out var given) || given;

    /// <summary>
    /// Decides an invalidation of <paramref name="ino"/>'s attributes: true if it must be written (and the directory then
    /// counts as invalidated), false if one already went out since the kernel was last given them.
    /// </summary>
    public bool TakeForInvalidation(ulong ino)
    {
        while (_given.TryGetValue(ino, out var given))
        {
            if (!given) return false;
            if (_given.TryUpdate(ino, false, true)) return true;
        }
        return true;
    }

    /// <summary>The kernel forgot the directory: nothing is known of it any more.</summary>
    public void Forgotten(ulong ino) => _given.TryRemove(ino, out _);
}
