namespace DinoMesh.Core.Metadata;

/// <summary>
/// The op sequences a client has had applied recently: an immutable set of numbers, kept ascending in one array that
/// the sets made from one another share. A client's sequences mostly come in ascending order, so the usual change is
/// "add one above the largest, drop the smallest" (<see cref="Add(ulong, int)"/>), which here is one small object: the
/// new number goes into the next free slot of the shared array (claimed once, so no two sets ever write the same slot)
/// and the window moves up by one. Anything else (a number below the largest, a full array, a slot another set claimed
/// first) copies the set into a new array with room to grow, which the next appends then share. It replaces an
/// <c>ImmutableSortedSet&lt;ulong&gt;</c> of 1,024 numbers, whose add and removal of the minimum made about twenty tree
/// nodes per applied change on every node (docs/benchmarks.md, allocations per commit round); the set it holds, and so
/// the snapshot, are the same.
/// </summary>
public sealed class OpSequenceSet : IReadOnlyCollection<ulong>
{
    /// <summary>The slots sets share; those below <see cref="Claimed"/> are written and never change again.</summary>
    private sealed class Slots(ulong[] values, int claimed)
    {
        public readonly ulong[] Values = values;
        public int Claimed = claimed;
    }

    private readonly Slots _slots;
    private readonly int _start;

    private OpSequenceSet(Slots slots, int start, int count)
    {
        _slots = slots;
        _start = start;
        Count = count;
    }

    public static OpSequenceSet Empty { get; } = new(new Slots([], 0), 0, 0);

    /// <summary>The set of <paramref name="sequences"/> (in any order, repeats counted once).</summary>
    public static OpSequenceSet From(IEnumerable<ulong> sequences)
    {
        var sorted = sequences.Distinct().Order().ToArray();
        return sorted.Length == 0 ? Empty : new OpSequenceSet(new Slots(sorted, sorted.Length), 0, sorted.Length);
    }

    public int Count { get; }

    /// <summary>The smallest number, or 0 for the empty set (as <c>ImmutableSortedSet.Min</c>).</summary>
    public ulong Min => Count == 0 ? 0 : _slots.Values[_start];

    /// <summary>The largest number, or 0 for the empty set.</summary>
    public ulong Max => Count == 0 ? 0 : _slots.Values[_start + Count - 1];

    public bool Contains(ulong sequence) => Count > 0 && Array.BinarySearch(_slots.Values, _start, Count, sequence) >= 0;

    /// <summary>This set with <paramref name="sequence"/>.</summary>
    public OpSequenceSet Add(ulong sequence) => Add(sequence, int.MaxValue);

    /// <summary>
    /// This set with <paramref name="sequence"/>, and then without its smallest number when it holds more than
    /// <paramref name="limit"/> (one at most, as the op window has always done it).
    /// </summary>
    public OpSequenceSet Add(ulong sequence, int limit)
    {
        var added = Contains(sequence) ? this : Count > 0 && sequence < Max ? Inserted(sequence) : Appended(sequence);
        return added.Count > limit ? new OpSequenceSet(added._slots, added._start + 1, added.Count - 1) : added;
    }

    private OpSequenceSet Appended(ulong sequence)
    {
        var end = _start + Count;
        var values = _slots.Values;
        // The slot after this set's last is free only if no set made from this one took it: claimed, it is this set's
        // successor's alone. Written before the new set is handed out; whoever sees that set sees the slot.
        if (end < values.Length && Interlocked.CompareExchange(ref _slots.Claimed, end + 1, end) == end)
        {
            values[end] = sequence;
            return new OpSequenceSet(_slots, _start, Count + 1);
        }
        return Inserted(sequence);
    }

    /// <summary>A copy with <paramref name="sequence"/> in its place, in a new array with room for as many appends again.</summary>
    private OpSequenceSet Inserted(ulong sequence)
    {
        var values = new ulong[Math.Max(16, 2 * (Count + 1))];
        var below = Count == 0 ? 0 : ~Array.BinarySearch(_slots.Values, _start, Count, sequence) - _start;
        Array.Copy(_slots.Values, _start, values, 0, below);
        values[below] = sequence;
        Array.Copy(_slots.Values, _start + below, values, below + 1, Count - below);
        return new OpSequenceSet(new Slots(values, Count + 1), 0, Count + 1);
    }

    /// <summary>Ascending.</summary>
    public IEnumerator<ulong> GetEnumerator()
    {
        for (var i = 0; i < Count; i++) yield return _slots.Values[_start + i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
