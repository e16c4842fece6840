using System.Runtime.InteropServices;

namespace DinoMesh.Fuse.Session;

/// <summary>
/// Reply messages for READ laid out so that the data starts on a page boundary (in fact a huge page:
/// <see cref="ReadReplyBuffer"/>), with the out header in the 16 bytes in front of it: the reply is still one
/// contiguous write(2), and a file system that reads with O_DIRECT can read straight into the data part, so the bytes
/// are copied once in user space at most and reach the disk as one request. Buffers of one size (the largest READ the
/// session negotiated), a bounded number kept: a fresh one costs page faults, which on a virtual machine are host
/// faults as well. Kept buffers are unmapped at a full (generation 2) collection once the pool has been unused for a few
/// seconds, so an idle node's trim gives their megabytes back instead of keeping them for good; a buffer the pool has no room for is unmapped when the
/// collector finds it unreachable.
/// </summary>
internal sealed class ReadReplyBuffers
{
    public const int PageSize = 4096;

    private readonly int _dataCapacity;

    // A few READs are in flight at most, so a lock over a short scan costs less than it would save.
    private readonly ReadReplyBuffer?[] _kept;

    /// <summary>How long the pool must have gone unused before a full collection unmaps what it keeps.</summary>
    public static readonly TimeSpan IdleBeforeRelease = TimeSpan.FromSeconds(5);

    private readonly Func<long> _nowMs;
    private long _lastRentMs;

    /// <param name="dataCapacity">The largest READ (the session's max_read).</param>
    /// <param name="maxRetained">Buffers kept for reuse.</param>
    /// <param name="nowMs">A millisecond clock (tests); <see cref="Environment.TickCount64"/> by default.</param>
    public ReadReplyBuffers(int dataCapacity, int maxRetained, Func<long>? nowMs = null)
    {
        _dataCapacity = RoundUp(Math.Max(dataCapacity, PageSize));
        _kept = new ReadReplyBuffer?[maxRetained];
        _nowMs = nowMs ?? (() => Environment.TickCount64);
        _lastRentMs = _nowMs();
        FullCollectionWatch.Start(this);
    }

    /// <summary>A buffer whose data part holds at least <paramref name="dataLength"/> bytes (a larger one is not kept).</summary>
    public ReadReplyBuffer Rent(int dataLength)
    {
        if (dataLength > _dataCapacity) return new ReadReplyBuffer(RoundUp(dataLength));
        lock (_kept)
        {
            _lastRentMs = _nowMs();
            for (int i = 0; i < _kept.Length; i++)
            {
                if (_kept[i] is not { } buffer) continue;
                _kept[i] = null;
                return buffer;
            }
        }
        return new ReadReplyBuffer(_dataCapacity);
    }

    public void Return(ReadReplyBuffer buffer)
    {
        if (buffer.DataCapacity != _dataCapacity) return;
        lock (_kept)
        {
            for (int i = 0; i < _kept.Length; i++)
            {
                if (_kept[i] is not null) continue;
                _kept[i] = buffer;
                return;
            }
        }
    }

    /// <summary>Buffers kept (for tests).</summary>
    internal int Kept
    {
        get
        {
            lock (_kept) return _kept.Count(buffer => buffer is not null);
        }
    }

    /// <summary>
    /// After a full collection: unmaps every kept buffer unless the pool was used within <see cref="IdleBeforeRelease"/>
    /// (a streaming reader keeps its buffers: a fresh one costs a huge page's fault, zeroing and perhaps compaction).
    /// A kept buffer is one its last renter handed back, so nothing uses its memory any more: a <see cref="Memory{T}"/>
    /// kept by mistake would throw <see cref="ObjectDisposedException"/>, not read freed memory.
    /// </summary>
    private void LetGo()
    {
        lock (_kept)
        {
            if (_nowMs() - _lastRentMs < (long)IdleBeforeRelease.TotalMilliseconds) return;
            for (int i = 0; i < _kept.Length; i++)
            {
                ((IDisposable?)_kept[i])?.Dispose();
                _kept[i] = null;
            }
        }
    }

    private static int RoundUp(int length) => checked((length + PageSize - 1) / PageSize * PageSize);

    /// <summary>
    /// An unreachable object whose finalizer runs after collections and registers itself again (the way the runtime's
    /// array pools learn of full collections); it tells the pool when a generation 2 collection has happened since it
    /// last looked, and stops once the pool itself is gone.
    /// </summary>
    private sealed class FullCollectionWatch
    {
        // A GC handle, not a WeakReference: that is an object with a finalizer of its own, which may run before this
        // one and leave it nothing to look at.
        private GCHandle _pool;
        private int _seen;

        private FullCollectionWatch(ReadReplyBuffers pool)
        {
            _pool = GCHandle.Alloc(pool, GCHandleType.Weak);
            _seen = GC.CollectionCount(2);
        }

        public static void Start(ReadReplyBuffers pool) => _ = new FullCollectionWatch(pool);

        ~FullCollectionWatch()
        {
            if (_pool.Target is not ReadReplyBuffers pool)
            {
                _pool.Free();
                return;
            }
            // Also runs after younger collections while this object is young itself: only a full one lets go.
            int now = GC.CollectionCount(2);
            if (now != _seen)
            {
                _seen = now;
                pool.LetGo();
            }
            GC.ReRegisterForFinalize(this);
        }
    }
}
