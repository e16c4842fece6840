namespace DinoMesh.Core.Buffers;

/// <summary>
/// How many holders share a pooled array: the one it was lent to, and one more for each <see cref="Retain"/>. The last
/// <see cref="Release"/> says so, and only then may the array go back to its pool. A retain after that, or a release
/// too many, throws: some holder's bytes may already belong to someone else. A field changed in place, never copied.
/// </summary>
internal struct HolderCount
{
    private int _count;

    public HolderCount(int count) => _count = count;

    /// <summary>Holders now (0: back in the pool, or never lent).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Starts a lending with one holder; <paramref name="what"/> names the thing in the error when it was still held.</summary>
    public void Lend(string what)
    {
        if (Interlocked.Exchange(ref _count, 1) != 0) throw new InvalidOperationException($"{what} still referenced was in the pool");
    }

    /// <summary>One more holder; the caller must be one already.</summary>
    public void Retain(string what)
    {
        while (true)
        {
            var now = Volatile.Read(ref _count);
            if (now <= 0) throw new InvalidOperationException($"{what} that is back in its pool cannot be retained");
            if (Interlocked.CompareExchange(ref _count, now + 1, now) == now) return;
        }
    }

    /// <summary>One holder less; true when it was the last, so the array may go back. Exactly once per holder.</summary>
    public bool Release(string what)
    {
        var left = Interlocked.Decrement(ref _count);
        if (left > 0) return false;
        if (left == 0) return true;
        Interlocked.Increment(ref _count);
        throw new InvalidOperationException($"{what} was released more often than it was lent or retained");
    }
}
