using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Volume;

/// <summary>
/// What the scans look for: the chunk-size blocks of a file that hold the compaction threshold of extents or more (as
/// <see cref="ExtentMap.Touching"/> counts them: an extent reaching over a block boundary counts in both blocks) and a
/// hole-free run of two or more to merge, and which member of the cluster takes a file in each scan. Pure: a state in, blocks out.
/// </summary>
internal static class FragmentedBlocks
{
    /// <summary>
    /// Adds to <paramref name="into"/> each block of <paramref name="inode"/> that the compactor would act on: one holding
    /// <paramref name="threshold"/> extents or more of which two or more lie wholly in the block with no hole between
    /// them (a run <see cref="Compactor.Choose"/> can merge), and whether it lies wholly below the file's size (an
    /// appender moved past it: the compactor then makes it one chunk if its extents cover it, as when the write that
    /// filled it had queued it). A sparse block whose extents are all split by holes is left out: holes are never
    /// filled, so the worker would look at it and drop it at every scan. One walk over the file's extents; a file with
    /// fewer extents than the threshold in all is not walked at all.
    /// </summary>
    public static void Of(Inode inode, long blockSize, int threshold, List<(long Block, bool Filled)> into)
    {
        if (!inode.IsRegular || inode.Extents.Count < threshold) return;
        long current = -1;
        var count = 0;
        var mergeable = false;
        // The extent before this one, when it lay wholly in one block: where it ended, and in which block.
        long insideEnd = -1, insideBlock = -1;
        foreach (var e in inode.Extents)
        {
            if (e.Length <= 0) continue;
            var first = e.Offset / blockSize;
            var last = (e.End - 1) / blockSize;
            if (first != current)
            {
                Add(inode, blockSize, threshold, current, count, mergeable, into);
                current = first;
                count = 0;
                mergeable = false;
            }
            count++;
            if (first == last)
            {
                // Two neighbours with no hole between them, both inside this block: a run Choose would merge.
                if (insideBlock == first && insideEnd == e.Offset) mergeable = true;
                (insideEnd, insideBlock) = (e.End, first);
                continue;
            }
            // Reaching over a boundary, it is in no block's run. The blocks strictly between hold this extent alone;
            // the last one starts with it.
            insideBlock = -1;
            Add(inode, blockSize, threshold, current, count, mergeable, into);
            current = last;
            count = 1;
            mergeable = false;
        }
        Add(inode, blockSize, threshold, current, count, mergeable, into);
    }

    private static void Add(Inode inode, long blockSize, int threshold, long block, int count, bool mergeable, List<(long Block, bool Filled)> into)
    {
        if (block >= 0 && count >= threshold && mergeable) into.Add((block, (block + 1) * blockSize <= inode.Size));
    }

    /// <summary>
    /// Whether nothing changed <paramref name="inode"/> (its ctime: every write moves it, a compaction does not) for
    /// <paramref name="quiet"/> before <paramref name="nowNs"/>. A file changed more recently has a writer, somewhere,
    /// whose own compactor looks after it and waits for it to be quiet; a scan that merged its blocks under it would
    /// rewrite them while it flushes. A ctime ahead of this node's clock counts as recent.
    /// </summary>
    public static bool QuietFor(Inode inode, long nowNs, TimeSpan quiet) => nowNs - inode.CTime >= quiet.Ticks * TimeSpan.NanosecondsPerTick;

    /// <summary>
    /// Whether <paramref name="self"/> is the member to look at <paramref name="ino"/> in the scan of turn
    /// <paramref name="turn"/>: the one ranked <c>turn mod members</c> for this file (<see cref="RankOf"/>). Each file's
    /// ranking is an order of all the members, so in one turn exactly one member takes each file, and over any
    /// <c>members</c> consecutive turns each member takes it once. Extents do not record which node wrote them, so this
    /// spreads the files over the members and lets all of them scan at once without each rewriting every block. A node
    /// that knows no members (or is not among them) counts as the only one: it takes every file in every turn.
    /// </summary>
    public static bool Takes(FileSystemState state, PeerId self, ulong ino, long turn)
    {
        var members = state.Members;
        if (members.Count == 0 || !members.ContainsKey(self)) return true;
        var wanted = (int)(((turn % members.Count) + members.Count) % members.Count);
        return RankOf(state, self, ino) == wanted;
    }

    /// <summary>
    /// Where <paramref name="self"/> stands, from 0, in <paramref name="ino"/>'s ranking of the members (rendezvous
    /// hashing: each member scored by a mix of the inode number and its id, highest first; equal scores in the members'
    /// replicated order). Every node computes the same ranking from the replicated member list, and a member joining or
    /// leaving moves only the files it ranks above others in. 0 for a node that is not a member.
    /// </summary>
    public static int RankOf(FileSystemState state, PeerId self, ulong ino)
    {
        var members = state.Members;
        if (!members.ContainsKey(self)) return 0;
        var key = Mix(ino);
        var mine = Mix(key ^ self.Prefix);
        var rank = 0;
        // The dictionary's own (struct) enumerator: Keys is an interface, whose enumerator is allocated per file.
        foreach (var (member, _) in members)
        {
            if (member == self) continue;
            var score = Mix(key ^ member.Prefix);
            if (score > mine || (score == mine && member < self)) rank++;
        }
        return rank;
    }

    /// <summary>
    /// The turn of the periodic scan at <paramref name="unixMs"/>: the number of the <paramref name="every"/>-long
    /// window of the wall clock nearest to it. Every node scans at the start of each window, so all of them use the same
    /// turn there even when their clocks or timers are off by less than half a window.
    /// </summary>
    public static long TurnAt(long unixMs, TimeSpan every)
    {
        var ms = Math.Max(1, (long)every.TotalMilliseconds);
        return (unixMs + (ms / 2)) / ms;
    }

    /// <summary>SplitMix64's finaliser: neighbouring inode numbers land on unrelated members.</summary>
    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
