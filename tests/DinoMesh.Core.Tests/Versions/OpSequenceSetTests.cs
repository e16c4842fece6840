using System.Collections.Immutable;
using DinoMesh.Core.Metadata;

namespace DinoMesh.Core.Tests.Versions;

/// <summary>
/// The op window's set (<see cref="OpSequenceSet"/>) holds what the sorted set it replaced held, for any order of adds and
/// for sets made from the same one on different paths (the holder's tip and its replica apply the same change to the
/// same state); and the usual add, one above the largest in a full window, makes one small object instead of a tree path.
/// </summary>
public sealed class OpSequenceSetTests
{
    private const int Limit = 64;

    [Fact]
    public void Any_order_of_adds_with_the_window_limit_keeps_what_a_sorted_set_keeps()
    {
        var random = new Random(20261207);
        for (var run = 0; run < 50; run++)
        {
            var mine = OpSequenceSet.Empty;
            var reference = ImmutableSortedSet<ulong>.Empty;
            var next = (ulong)random.Next(0, 1000);
            for (var i = 0; i < 600; i++)
            {
                // Mostly ascending, as one client's sequences come; some late (in flight together), some repeated.
                var seq = random.Next(10) switch
                {
                    0 => next - (ulong)Math.Min((long)next, random.Next(0, 2 * Limit)),
                    1 when reference.Count > 0 => reference.Max,
                    _ => next += (ulong)random.Next(1, 3),
                };
                mine = mine.Add(seq, Limit);
                reference = reference.Add(seq);
                if (reference.Count > Limit) reference = reference.Remove(reference.Min);
                Assert.Equal(reference.ToArray(), mine.ToArray());
                Assert.Equal(reference.Count, mine.Count);
                Assert.Equal(reference.Min, mine.Min);
                Assert.Equal(reference.Max, mine.Max);
                Assert.Equal(reference.Contains(seq), mine.Contains(seq));
                Assert.Equal(reference.Contains(seq + 1), mine.Contains(seq + 1));
            }
        }
    }

    [Fact]
    public void Two_sets_made_from_the_same_one_never_see_each_others_numbers()
    {
        var parent = OpSequenceSet.From(Enumerable.Range(1, 10).Select(i => (ulong)i)).Add(11);
        var left = parent.Add(12);
        var right = parent.Add(13);
        var leftAgain = left.Add(14);
        var rightAgain = right.Add(15);
        Assert.Equal(Enumerable.Range(1, 11).Select(i => (ulong)i), parent);
        Assert.Equal([.. Enumerable.Range(1, 12).Select(i => (ulong)i), 14UL], leftAgain);
        Assert.Equal([.. Enumerable.Range(1, 11).Select(i => (ulong)i), 13UL, 15UL], rightAgain);
        Assert.False(right.Contains(12));
        Assert.False(left.Contains(13));
    }

    [Fact]
    public void Adds_above_the_largest_of_a_full_window_allocate_a_small_object_each()
    {
        var window = OpSequenceSet.Empty;
        for (ulong seq = 1; seq <= FileSystemState.OpWindow + 10; seq++) window = window.Add(seq, FileSystemState.OpWindow);
        const int Adds = 1000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Adds; i++) window = window.Add(window.Max + 1, FileSystemState.OpWindow);
        var perAdd = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Adds;
        Assert.Equal(FileSystemState.OpWindow, window.Count);
        // A set object of 32 bytes each, and now and then a new array for the next thousand (16 KiB): about 50 bytes an
        // add. The sorted set made about twenty tree nodes per add and removal, about 1 KiB.
        Assert.True(perAdd <= 100, $"{perAdd:F0} bytes per add");
    }
}
