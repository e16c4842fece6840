using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

/// <summary>
/// What the scan after a start looks for: the chunk-size blocks of a file that hold the compaction threshold of
/// extents or more (as <see cref="ExtentMap.Touching"/> counts them: an extent reaching over a block boundary counts
/// in both blocks), and which member of the cluster is to compact a file first. Pure: a state in, blocks out.
/// </summary>
internal static class FragmentedBlocks
{
    /// <summary>
    /// Adds to <paramref name="into"/> each block of <paramref name="inode"/> holding <paramref name="threshold"/>
    /// extents or more, and whether it lies wholly below the file's size (an appender moved past it: the compactor then
    /// makes it one chunk if its extents cover it, as when the write that filled it had queued it). One walk over the
    /// file's extents; a file with fewer extents than the threshold in all is not walked at all.
    /// </summary>
    public static void Of(Inode inode, long blockSize, int threshold, List<(long Block, bool Filled)> into)
    {
        if (!inode.IsRegular || inode.Extents.Count < threshold) return;
        long current = -1;
        var count = 0;
        foreach (var e in inode.Extents)
        {
            if (e.Length <= 0) continue;
            var first = e.Offset / blockSize;
            var last = (e.End - 1) / blockSize;
            if (first != current)
            {
                Add(inode, blockSize, threshold, current, count, into);
                current = first;
                count = 0;
            }
            count++;
            // The blocks strictly between hold this extent alone; the last one starts with it.
            if (last != first)
            {
                Add(inode, blockSize, threshold, current, count, into);
                current = last;
                count = 1;
            }
        }
        Add(inode, blockSize, threshold, current, count, into);
    }

    private static void Add(Inode inode, long blockSize, int threshold, long block, int count, List<(long Block, bool Filled)> into)
    {
        if (block >= 0 && count >= threshold) into.Add((block, (block + 1) * blockSize <= inode.Size));
    }

    /// <summary>
    /// Whether nothing changed <paramref name="inode"/> (its ctime: every write moves it, a compaction does not) for
    /// <paramref name="quiet"/> before <paramref name="nowNs"/>. A file changed more recently has a writer, somewhere,
    /// whose own compactor looks after it and waits for it to be quiet; a scan that merged its blocks under it would
    /// rewrite them while it flushes. A ctime ahead of this node's clock counts as recent.
    /// </summary>
    public static bool QuietFor(Inode inode, long nowNs, TimeSpan quiet) => nowNs - inode.CTime >= quiet.Ticks * TimeSpan.NanosecondsPerTick;

    /// <summary>
    /// Whether <paramref name="self"/> is the member to compact <paramref name="ino"/> first: the members in their
    /// (replicated, so common) order, one picked by a mix of the inode number. Extents do not record which node wrote
    /// them, so this spreads the files over the members and lets all of them restart at once without each rewriting
    /// every block. A node that knows no members (or is not among them) counts as the only one.
    /// </summary>
    public static bool FirstFor(FileSystemState state, PeerId self, ulong ino)
    {
        var members = state.Members;
        if (members.Count == 0 || !members.ContainsKey(self)) return true;
        var pick = (int)(Mix(ino) % (ulong)members.Count);
        var i = 0;
        foreach (var member in members.Keys)
        {
            if (i++ == pick) return member == self;
        }
        return false;
    }

    /// <summary>SplitMix64's finaliser: neighbouring inode numbers land on unrelated members.</summary>
    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
