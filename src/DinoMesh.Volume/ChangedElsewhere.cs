using System.Collections.Concurrent;

namespace DinoMesh.Volume;

/// <summary>
/// Inodes another node changed since this node last opened them: an open forgets the kernel's cached attributes of
/// such a file before it is answered (see <c>DinoFileSystem.ForgetIfChangedElsewhere</c>). Every change applied from
/// elsewhere adds to it, so it is bounded: past the bound it starts over, which leaves only the rare lookup race that
/// open covers uncovered for a moment.
/// </summary>
internal sealed class ChangedElsewhere
{
    public const int Bound = 1 << 16;

    private readonly ConcurrentDictionary<ulong, byte> _inodes = new();
    // Counted here, not read from the dictionary: ConcurrentDictionary.Count takes every one of its locks (their number
    // grows with the table, up to 1,024), and this is asked for every change applied from elsewhere; on a follower of
    // one busy writer that was 4-6 % of its CPU.
    private int _added;

    public void Add(ulong ino)
    {
        if (!_inodes.TryAdd(ino, 0)) return;
        if (Interlocked.Increment(ref _added) <= Bound) return;
        // Approximate under concurrent callers (an add between the clear and the reset goes uncounted): a bound, not a size.
        _inodes.Clear();
        Interlocked.Exchange(ref _added, 1);
        _inodes.TryAdd(ino, 0);
    }

    /// <summary>True (once) when <paramref name="ino"/> changed elsewhere since it was last taken.</summary>
    public bool TryTake(ulong ino)
    {
        if (!_inodes.TryRemove(ino, out _)) return false;
        Interlocked.Decrement(ref _added);
        return true;
    }

    /// <summary>Whether <paramref name="ino"/> changed elsewhere since it was last taken (it stays).</summary>
    public bool Contains(ulong ino) => _inodes.ContainsKey(ino);

    public int Count => Volatile.Read(ref _added);
}
