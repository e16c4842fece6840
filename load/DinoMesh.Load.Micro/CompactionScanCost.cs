using System.Collections.Immutable;
using System.Diagnostics;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Volume;

namespace DinoMesh.Load.Micro;

/// <summary>
/// What the compactor's scan after a start costs on a large state: the walk <c>Compactor.ScanPassAsync</c> makes
/// (every inode; the files with the threshold of extents or more, unchanged for 2 s, walked extent by extent by
/// <see cref="FragmentedBlocks.Of"/>, each picked by <see cref="FragmentedBlocks.Takes"/>), without its yields,
/// its waits for room and its queue. And the enqueue gate's count (<see cref="ExtentMap.CountTouching"/>) on a file of
/// many extents. States: the 100k-file tree of the snapshot benchmarks (one extent per file), then the same with
/// fragmented files added. Not a BenchmarkDotNet benchmark (a one-off pass per start); the median of
/// <c>--passes</c> passes (default 7) after one warm-up.
/// </summary>
internal static class CompactionScanCost
{
    private const long Block = 1 << 20;
    private const int Threshold = 16;
    private static readonly PeerId Self = new(new string('a', 64));

    public static int Run(string[] args)
    {
        var passes = args is ["--passes", var p, ..] ? int.Parse(p, System.Globalization.CultureInfo.InvariantCulture) : 7;
        Console.WriteLine($"load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");
        var tree = SnapshotBenchmarks.Tree();
        Measure("100k files, 1 extent each", tree, passes);
        Measure("+ 100 files of 2,000 x 8 KiB (16 blocks of 128 extents each)", With(tree, 100, 2_000, 8192), passes);
        Measure("+ 1,000 files of 2,000 x 8 KiB", With(tree, 1_000, 2_000, 8192), passes);
        Measure("+ 1,000 files of 2,000 x 8 KiB, 5 members (this node's share of a turn)", Members(With(tree, 1_000, 2_000, 8192), 5), passes);
        Measure("+ 10 files of 200,000 x 200 B (39 blocks of 5,243 extents each)", With(tree, 10, 200_000, 200), passes);
        GateCount(With(tree, 1, 200_000, 200));
        Console.WriteLine($"load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    /// <summary>The state with <paramref name="count"/> members, this node among them: each pass ranks them per fragmented file.</summary>
    private static FileSystemState Members(FileSystemState state, int count)
    {
        var members = state.Members.SetItem(Self, "");
        for (var i = 1; i < count; i++) members = members.SetItem(new PeerId(new string((char)('a' + i), 64)), "");
        return state with { Members = members };
    }

    /// <summary>The tree with <paramref name="files"/> more regular files of <paramref name="pieces"/> extents of <paramref name="size"/> bytes.</summary>
    private static FileSystemState With(FileSystemState tree, int files, int pieces, int size)
    {
        var inodes = tree.Inodes.ToBuilder();
        var ino = tree.NextIno;
        for (var f = 0; f < files; f++, ino++)
        {
            var extents = new Extent[pieces];
            for (var i = 0; i < pieces; i++)
            {
                extents[i] = size <= Extent.MaxInline
                    ? new Extent((long)i * size, size, default, 0, new byte[size])
                    : new Extent((long)i * size, size, ChunkId.Of(BitConverter.GetBytes(((long)f << 32) | (uint)i)), 0);
            }
            inodes[ino] = new Inode { Ino = ino, Mode = FileMode.Regular | 0x1A4, NLink = 1, Size = (long)pieces * size, Extents = ExtentMap.FromSorted(extents) };
        }
        return tree with { Inodes = inodes.ToImmutable(), NextIno = ino };
    }

    private static void Measure(string name, FileSystemState state, int passes)
    {
        Pass(state, out _, out _);
        var times = new List<double>();
        long allocated = 0, extents = 0;
        var found = 0;
        for (var i = 0; i < passes; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var started = Stopwatch.GetTimestamp();
            found = Pass(state, out extents, out _);
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        times.Sort();
        Console.WriteLine($"{name}: {state.Inodes.Count:N0} inodes, {extents:N0} extents walked, {found:N0} blocks found; pass {times[times.Count / 2]:F1} ms median (min {times[0]:F1}, max {times[^1]:F1}); {allocated:N0} B allocated per pass");
    }

    /// <summary>The scan's walk as ScanPassAsync makes it in turn 0 (a lone member takes every file).</summary>
    private static int Pass(FileSystemState state, out long walked, out int candidates)
    {
        var blocks = new List<(long Block, bool Filled)>();
        var nowNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        var found = 0;
        walked = 0;
        candidates = 0;
        foreach (var (ino, inode) in state.Inodes)
        {
            if (!inode.IsRegular || inode.Extents.Count < Threshold) continue;
            if (!FragmentedBlocks.QuietFor(inode, nowNs, Compactor.FirstQuiet)) continue;
            if (!FragmentedBlocks.Takes(state, Self, ino, 0)) continue;
            candidates++;
            walked += inode.Extents.Count;
            FragmentedBlocks.Of(inode, Block, Threshold, blocks);
            found += blocks.Count;
            blocks.Clear();
        }
        return found;
    }

    /// <summary>The enqueue gate's question on a file of 200,000 extents: how many touch one block, by two binary searches.</summary>
    private static void GateCount(FileSystemState state)
    {
        var inode = state.Find(state.NextIno - 1)!;
        const int Rounds = 200_000;
        var sum = 0L;
        var before = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < Rounds; i++)
        {
            var block = i % 38;
            sum += inode.Extents.CountTouching(block * Block, (block + 1) * Block);
        }
        var elapsed = Stopwatch.GetElapsedTime(started);
        Console.WriteLine($"gate count on a file of {inode.Extents.Count:N0} extents: {elapsed.TotalMicroseconds / Rounds:F2} µs per block, {GC.GetAllocatedBytesForCurrentThread() - before} B allocated in {Rounds:N0} (sum {sum})");
    }
}
