using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Membership;

/// <summary>
/// Which member to probe next: a shuffled round-robin, reshuffled after each pass (SWIM 4.3). Unlike a pure random
/// pick, every member is probed by this node at least once per N intervals, which bounds worst-case detection time.
/// New members are inserted at a random position so they are not all probed last.
/// </summary>
internal sealed class ProbeOrder(Random random)
{
    private readonly List<PeerId> _order = [];
    private int _next;

    public void Add(PeerId id)
    {
        var at = random.Next(_order.Count + 1);
        _order.Insert(at, id);
        if (at < _next) _next++;
    }

    public void Remove(PeerId id)
    {
        var at = _order.IndexOf(id);
        if (at < 0) return;
        _order.RemoveAt(at);
        if (at < _next) _next--;
    }

    /// <summary>The next member that <paramref name="probeable"/> accepts, or null if none does.</summary>
    public PeerId? Next(Func<PeerId, bool> probeable)
    {
        for (var checkedCount = 0; checkedCount <= _order.Count; checkedCount++)
        {
            if (_next >= _order.Count)
            {
                if (_order.Count == 0) return null;
                random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_order));
                _next = 0;
            }
            var id = _order[_next++];
            if (probeable(id)) return id;
        }
        return null;
    }
}
