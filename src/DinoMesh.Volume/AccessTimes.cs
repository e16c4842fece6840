using System.Collections.Concurrent;
using DinoMesh.Core.Metadata;
using DinoMesh.Fuse;

namespace DinoMesh.Volume;

/// <summary>
/// Access times, by the mount's rule (relatime, strictatime or noatime). A read that should move atime records the
/// new value here, in memory, and GETATTR shows it at once; the value is committed later, in the background, as one
/// <c>SetAttributes</c> per file (every <see cref="VolumeOptions.AtimeFlushInterval"/>, at fsync of the file, and at
/// unmount). Reads therefore never wait for a commit, any number of reads of a file between two flushes cost one
/// commit, and under relatime a file costs at most one atime commit per change (or per day) however often it is read.
/// A crash loses the atime updates of the last interval, never anything else.
/// </summary>
internal sealed class AccessTimes
{
    private static readonly long Day = TimeSpan.FromDays(1).Ticks * 100;

    private readonly ConcurrentDictionary<ulong, long> _pending = new();
    private readonly MountAtime _mode;

    public AccessTimes(MountAtime mode) => _mode = mode;

    public bool IsEmpty => _pending.IsEmpty;

    /// <summary>The atime a reader sees: a recorded read not yet committed, else the committed value.</summary>
    public long Effective(Inode inode) => _pending.TryGetValue(inode.Ino, out var atime) ? atime : inode.ATime;

    /// <summary>Whether a read at <paramref name="nowNs"/> moves atime (Linux's touch_atime rules).</summary>
    public bool IsDue(Inode inode, long nowNs)
    {
        switch (_mode)
        {
            case MountAtime.NoAtime:
                return false;
            case MountAtime.StrictAtime:
                return true;
            default:
                var atime = Effective(inode);
                return atime <= inode.MTime || atime <= inode.CTime || nowNs - atime >= Day;
        }
    }

    /// <summary>A read happened: records the new atime when the rule says so. Never blocks, never commits.</summary>
    public void Accessed(Inode inode, long nowNs)
    {
        if (IsDue(inode, nowNs)) _pending[inode.Ino] = nowNs;
    }

    /// <summary>An explicit atime (utimensat) or the file's removal supersedes a recorded read.</summary>
    public void Forget(ulong ino) => _pending.TryRemove(ino, out _);

    /// <summary>The recorded reads, to be committed.</summary>
    public IEnumerable<(ulong Ino, long ATime)> Pending(ulong? only = null) =>
        only is { } ino
            ? _pending.TryGetValue(ino, out var atime) ? [(ino, atime)] : []
            : _pending.Select(p => (p.Key, p.Value)).ToList();

    /// <summary>Drops a recorded read once it is committed, unless a newer read replaced it meanwhile.</summary>
    public void Committed(ulong ino, long atime) => _pending.TryRemove(new KeyValuePair<ulong, long>(ino, atime));
}
