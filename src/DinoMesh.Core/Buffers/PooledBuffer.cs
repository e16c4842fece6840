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
    private readonly int _start;
    private int _references;
    private int _length;

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
        _references = 1;
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
    public int References => Volatile.Read(ref _references);

    /// <summary>The lent bytes. Only valid while the caller holds a reference.</summary>
    public Memory<byte> Memory => _array.AsMemory(_start, _length);

    /// <summary>The lent bytes as an array segment (the same memory as <see cref="Memory"/>).</summary>
    public ArraySegment<byte> Segment => new(_array, _start, _length);

    /// <summary>One more reference, for a second holder; the caller must hold one already (so the buffer cannot be in the pool).</summary>
    public void Retain()
    {
        while (true)
        {
            var now = Volatile.Read(ref _references);
            if (now <= 0) throw new InvalidOperationException("a buffer that is back in its pool cannot be retained");
            if (Interlocked.CompareExchange(ref _references, now + 1, now) == now) return;
        }
    }

    /// <summary>Gives up one reference; the last one returns the buffer to its pool. Exactly once per reference.</summary>
    public void Release()
    {
        var left = Interlocked.Decrement(ref _references);
        if (left > 0) return;
        if (left < 0)
        {
            Interlocked.Increment(ref _references);
            throw new InvalidOperationException("a pooled buffer was released more often than it was lent or retained");
        }
        _pool?.Return(this);
    }

    internal void Lend(int length)
    {
        if (length > Capacity) throw new ArgumentOutOfRangeException(nameof(length), $"{length} bytes in a buffer of {Capacity}");
        _length = length;
        if (Interlocked.Exchange(ref _references, 1) != 0) throw new InvalidOperationException("a buffer still referenced was in the pool");
    }
}
