using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Membership;

/// <summary>
/// Updates waiting to be piggybacked. At most one update per member: a newer one replaces the older (which is then
/// stale and would only waste space). Each is sent a bounded number of times, least-sent first and newest first among
/// equals, so fresh news spreads before old news is repeated.
/// </summary>
internal sealed class BroadcastQueue
{
    private readonly Dictionary<PeerId, Entry> _byMember = [];
    private readonly SortedSet<Entry> _bySendOrder = new(EntryOrder.Instance);
    private long _nextOrder;

    public int Count => _byMember.Count;

    /// <summary>Queue <paramref name="update"/>, dropping any queued update about the same member.</summary>
    public void Enqueue(MemberUpdate update)
    {
        if (_byMember.Remove(update.Id, out var old)) _bySendOrder.Remove(old);
        var entry = new Entry(update, _nextOrder++);
        _byMember.Add(update.Id, entry);
        _bySendOrder.Add(entry);
    }

    /// <summary>Take up to <paramref name="max"/> updates for one message; each is dropped once sent <paramref name="limit"/> times.</summary>
    public IReadOnlyList<MemberUpdate> Take(int max, int limit)
    {
        if (_bySendOrder.Count == 0 || max <= 0) return [];
        var picked = new Entry[Math.Min(max, _bySendOrder.Count)];
        for (var i = 0; i < picked.Length; i++)
        {
            picked[i] = _bySendOrder.Min!;
            _bySendOrder.Remove(picked[i]);
        }
        var updates = new MemberUpdate[picked.Length];
        for (var i = 0; i < picked.Length; i++)
        {
            var entry = picked[i];
            updates[i] = entry.Update;
            entry.Transmits++;
            if (entry.Transmits >= limit) _byMember.Remove(entry.Update.Id);
            else _bySendOrder.Add(entry);
        }
        return updates;
    }

    private sealed class Entry(MemberUpdate update, long order)
    {
        public MemberUpdate Update { get; } = update;
        public long Order { get; } = order;
        public int Transmits { get; set; }
    }

    private sealed class EntryOrder : IComparer<Entry>
    {
        public static readonly EntryOrder Instance = new();

        public int Compare(Entry? x, Entry? y)
        {
            if (ReferenceEquals(x, y)) return 0;
            if (x is null) return -1;
            if (y is null) return 1;
            var byTransmits = x.Transmits.CompareTo(y.Transmits);
            return byTransmits != 0 ? byTransmits : y.Order.CompareTo(x.Order);
        }
    }
}
