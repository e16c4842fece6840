using System.Collections.Concurrent;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

/// <summary>
/// Directories open here: how many handles each has, and its attributes for as long as one is open. A directory
/// removed while open (here or on another node) lives on for fstat with nlink 0, as on a local filesystem: the kernel
/// also asks for its attributes to check the caller's permission before each lookup, unlink or open through the
/// descriptor, and ESTALE there failed `rm -rf`, `find` and `tar` walking a tree another node removes.
/// <para>
/// One entry per directory holds both, so an open and a last close racing cannot leave the one without the other. The
/// attributes of a directory gone from the state come from here whether or not its removal's listener has run yet: a
/// GETATTR between a removal's publication and its listener (or an opendir that found the directory just before its
/// removal was published and counted itself just after the listener looked) answered ESTALE.
/// </para>
/// </summary>
internal sealed class OpenDirectories
{
    private readonly ConcurrentDictionary<ulong, Entry> _open = new();

    /// <summary>Compared by reference: a swap takes only the entry it read.</summary>
    private sealed class Entry(int handles, Inode last, bool removed)
    {
        public int Handles { get; } = handles;

        /// <summary>The directory as its last opendir found it, or as its removal here left it (nlink 0).</summary>
        public Inode Last { get; } = last;

        public bool Removed { get; } = removed;
    }

    /// <summary>One more handle on <paramref name="dir"/>, as this opendir found it.</summary>
    public void Opened(Inode dir) =>
        _open.AddOrUpdate(dir.Ino, static (_, d) => new Entry(1, d, false), static (_, e, d) => new Entry(e.Handles + 1, e.Removed ? e.Last : d, e.Removed), dir);

    /// <summary>One handle fewer; true when it was the last (the directory is forgotten).</summary>
    public bool Closed(ulong ino)
    {
        while (_open.TryGetValue(ino, out var entry))
        {
            if (entry.Handles <= 1)
            {
                if (_open.TryRemove(new KeyValuePair<ulong, Entry>(ino, entry))) return true;
            }
            else if (_open.TryUpdate(ino, new Entry(entry.Handles - 1, entry.Last, entry.Removed), entry))
            {
                return false;
            }
        }
        return false;
    }

    public bool IsOpen(ulong ino) => _open.ContainsKey(ino);

    /// <summary>
    /// This node removed <paramref name="removed"/> (its last attributes, nlink 0, the removal's ctime) while it is open
    /// here: those attributes are what fstat answers from now on. Nothing when it is not open.
    /// </summary>
    public void RemovedHere(Inode removed)
    {
        while (_open.TryGetValue(removed.Ino, out var entry))
        {
            if (_open.TryUpdate(removed.Ino, new Entry(entry.Handles, removed, true), entry)) return;
        }
    }

    /// <summary>
    /// The attributes of <paramref name="ino"/>, gone from the state, while a handle on it is open here: as this node's
    /// removal left them, or else as its last opendir found them with nlink 0. Null when it is not open here.
    /// </summary>
    public Inode? Gone(ulong ino) =>
        _open.TryGetValue(ino, out var entry) ? (entry.Removed ? entry.Last : entry.Last with { NLink = 0 }) : null;
}
