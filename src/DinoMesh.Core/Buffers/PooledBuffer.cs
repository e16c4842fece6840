namespace DinoMesh.Core.Buffers;

/// <summary>
/// A buffer lent by a <see cref="BufferPool"/> (or a plain array wrapped to look like one, <see cref="Unpooled"/>),
/// counted by reference: every holder took a reference (<see cref="Rent"/>'s, or <see cref="Retain"/>) and releases
/// it exactly once; the last release returns the buffer to its pool. Its bytes may be read only while holding a
/// reference. A release too many throws, since it means some holder's bytes may already belong to someone else.
/// </summary>
public sealed class PooledBuffer
{
    private readonly BufferPool? _pool;
    private readonly byte[] _array;
    // The page-aligned start of the usable part of the array; a lending's bytes start at _start + _lead.
    private readonly int _start;
    private HolderCount _holders;
    private int _length;
    private int _lead;

    internal unsafe PooledBuffer(BufferPool pool, int capacity)
    {
        _pool = pool;
        Capacity = capacity;
        // Pinned, so the alignment found once holds for good (and O_DIRECT reads can go straight into it).
        _array = GC.AllocateUninitializedArray<byte>(capacity + BufferPool.Alignment, pinned: true);
        fixed (byte* p = _array)
        {
            _start = (int)((BufferPool.Alignment - (long)p % BufferPool.Alignment) % BufferPool.Alignment);
        }
    }

    private PooledBuffer(byte[] array)
    {
        _array = array;
        Capacity = array.Length;
        _length = array.Length;
        _holders = new HolderCount(1);
    }

    /// <summary>A plain array in the shape of a lent buffer (one reference); releasing it gives nothing back to any pool.</summary>
    public static PooledBuffer Unpooled(byte[] array) => new(array);

    /// <summary>Bytes the buffer can hold.</summary>
    public int Capacity { get; }

    /// <summary>The bytes asked for when it was lent.</summary>
    public int Length => _length;

    /// <summary>True when releasing the last reference gives the buffer back to a pool.</summary>
    public bool IsPooled => _pool is not null;

    /// <summary>References held now (0: back in the pool, or never lent); for tests and assertions.</summary>
    public int References => _holders.Count;

    /// <summary>The lent bytes. Only valid while the caller holds a reference.</summary>
    public Memory<byte> Memory => _array.AsMemory(_start + _lead, _length);

    /// <summary>The lent bytes as an array segment (the same memory as <see cref="Memory"/>).</summary>
    public ArraySegment<byte> Segment => new(_array, _start + _lead, _length);

    /// <summary>One more reference, for a second holder; the caller must hold one already (so the buffer cannot be in the pool).</summary>
    public void Retain() => _holders.Retain("a buffer");

    /// <summary>Gives up one reference; the last one returns the buffer to its pool. Exactly once per reference.</summary>
    public void Release()
    {
        if (_holders.Release("a pooled buffer")) _pool?.Return(this);
    }

    /// <param name="length">Bytes lent.</param>
    /// <param name="alignedAt">The byte of the lent bytes that starts a page (<see cref="BufferPool.Rent"/>).</param>
    internal void Lend(int length, int alignedAt = 0)
    {
        // The lent bytes start alignedAt bytes before the usable part's second page, so that byte alignedAt starts it: less
        // than a page in, and the pool makes every buffer a page longer than any length it lends from it.
        int lead = alignedAt == 0 ? 0 : BufferPool.Alignment - alignedAt;
        if (lead + length > Capacity) throw new ArgumentOutOfRangeException(nameof(length), $"{length} bytes from {lead} in a buffer of {Capacity}");
        _length = length;
        _lead = lead;
        _holders.Lend("a buffer");
    }
}
