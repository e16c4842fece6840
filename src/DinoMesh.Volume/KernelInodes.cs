using System.Collections.Concurrent;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

/// <summary>
/// The inodes this node's kernel may hold: every entry reply (lookup, create, mknod, mkdir, symlink, link, readdirplus)
/// hands the kernel one lookup of an inode, and a FORGET gives lookups back; the root is always held. The kernel caches
/// nothing else: no attributes, pages or names of an inode it was never given, no names under a directory it does not
/// hold. So a change made elsewhere to such an inode needs no invalidation here. A follower of a busy writer elsewhere
/// otherwise writes three or four notifications per file to /dev/fuse (each answered ENOENT) and wakes a thread for them.
/// Counted when a reply is made, before it is written, so a count is never below the kernel's: an inode this says the
/// kernel cannot hold, it does not. (A reply that is never delivered leaves a count too high: an invalidation more.)
/// </summary>
internal sealed class KernelInodes
{
    private readonly ConcurrentDictionary<ulong, long> _lookups = new();

    /// <summary>An entry reply naming <paramref name="ino"/> is about to go to the kernel.</summary>
    public void Given(ulong ino) => _lookups.AddOrUpdate(ino, 1, static (_, n) => n + 1);

    /// <summary>
    /// The kernel gave back <paramref name="nlookup"/> lookups of <paramref name="ino"/> (FORGET). True when none are left.
    /// </summary>
    public bool Forgotten(ulong ino, ulong nlookup)
    {
        while (_lookups.TryGetValue(ino, out var held))
        {
            var left = held - (long)Math.Min(nlookup, long.MaxValue);
            if (left > 0 ? _lookups.TryUpdate(ino, left, held) : _lookups.TryRemove(KeyValuePair.Create(ino, held))) return left <= 0;
        }
        return true;
    }

    /// <summary>False only when the kernel holds nothing of <paramref name="ino"/>.</summary>
    public bool MayHold(ulong ino) => ino == FileSystemState.RootIno || _lookups.ContainsKey(ino);
}
