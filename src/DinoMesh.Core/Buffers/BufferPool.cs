namespace DinoMesh.Core.Buffers;

/// <summary>
/// Reusable page-aligned buffers for whole chunks on their way between a disk and a socket: a served chunk is read
/// into one with O_DIRECT and sent from it, a fetched one is received into one and kept there through verification,
/// import and the recent-fetch memory. A fresh megabyte per chunk costs a copy into new memory and that memory's page
/// faults (a third of a serving node's CPU and a fifth of a reader's, docs/benchmarks.md); a reused one costs neither.
/// <para>Ownership: <see cref="Rent"/> hands out a buffer with one reference, owned by the caller. Whoever holds a
/// reference releases it exactly once (<see cref="PooledBuffer.Release"/>); the last release gives the buffer back, and
/// only then may it be lent again. A reference that is never released costs nothing but the reuse: the collector takes
/// the buffer, so forgetting is safe and releasing early is the one mistake.</para>
/// </summary>
public sealed class BufferPool
{
    /// <summary>Buffers are page-aligned (what O_DIRECT wants of memory on every block size Linux uses).</summary>
    public const int Alignment = 4096;

    /// <summary>Smaller requests get a plain array of their own: pooling them saves nothing worth the bookkeeping.</summary>
    public const int MinimumPooled = 64 * 1024;

    /// <summary>
    /// Capacities are a page more than asked, rounded up to this step: a chunk and its answer (the chunk plus an envelope
    /// of a few bytes) share one kind, so a node that serves and fetches reuses the same buffers for both.
    /// </summary>
    private const int Step = 64 * 1024;

    private readonly long _maxKeptBytes;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, Stack<PooledBuffer>> _free = [];
    private long _keptBytes;
    private long _rented, _returned, _allocated;

    /// <param name="maxKeptBytes">Bytes of returned buffers kept for reuse; past it a returned buffer is left to the collector.</param>
    public BufferPool(long maxKeptBytes = 64L << 20) => _maxKeptBytes = maxKeptBytes;

    /// <summary>Buffers lent, given back, and newly allocated (pooled sizes only), since start.</summary>
    public (long Rented, long Returned, long Allocated) Counters
    {
        get
        {
            lock (_gate) return (_rented, _returned, _allocated);
        }
    }

    /// <summary>Bytes of buffers waiting in the pool.</summary>
    public long KeptBytes
    {
        get
        {
            lock (_gate) return _keptBytes;
        }
    }

    /// <summary>A buffer of exactly <paramref name="length"/> bytes (<see cref="PooledBuffer.Memory"/>), with one reference, the caller's.</summary>
    /// <param name="length">The bytes asked for.</param>
    /// <param name="alignedAt">
    /// Which byte of the buffer starts a page (0 to <see cref="Alignment"/> - 1; 0: the buffer itself does): for a
    /// message whose payload follows a header of known length, such as a fetched chunk behind its answer's envelope,
    /// so the payload can go to an O_DIRECT write from where it was received, with no copy into aligned memory.
    /// Only pooled sizes are aligned; a smaller buffer is a plain array wherever the collector put it.
    /// </param>
    public PooledBuffer Rent(int length, int alignedAt = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfNegative(alignedAt);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(alignedAt, Alignment);
        if (length < MinimumPooled) return PooledBuffer.Unpooled(GC.AllocateUninitializedArray<byte>(length));
        var capacity = (int)Math.Min(int.MaxValue - 2 * Alignment, ((long)length + Alignment + Step - 1) / Step * Step);
        PooledBuffer? buffer = null;
        lock (_gate)
        {
            _rented++;
            if (_free.TryGetValue(capacity, out var stack) && stack.TryPop(out buffer)) _keptBytes -= capacity;
            else _allocated++;
        }
        buffer ??= new PooledBuffer(this, capacity);
        buffer.Lend(length, alignedAt);
        return buffer;
    }

    /// <summary>The last reference was released: keep the buffer for the next <see cref="Rent"/>, within the bound.</summary>
    internal void Return(PooledBuffer buffer)
    {
        lock (_gate)
        {
            _returned++;
            if (_keptBytes + buffer.Capacity > _maxKeptBytes) return;
            if (!_free.TryGetValue(buffer.Capacity, out var stack)) _free[buffer.Capacity] = stack = new Stack<PooledBuffer>();
            stack.Push(buffer);
            _keptBytes += buffer.Capacity;
        }
    }
}
