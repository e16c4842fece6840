using System.Collections.Concurrent;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// What this node's chunk store holds, in memory: each chunk's length, when it was last in use (written, deduplicated
/// against, received, or let go of by the tree) and when it was last read. Loaded once from the store at start, then
/// kept up to date by every path that adds or removes a chunk. Garbage collection and the cache decide from it, and
/// delete through <see cref="TryDelete"/>, which is atomic against <see cref="Storing"/>: a chunk a writer marks in use
/// is never deleted under it.
/// </summary>
public sealed class ChunkInventory
{
    private const int Stripes = 64;

    private readonly ConcurrentDictionary<ChunkId, Entry> _entries = new();
    private readonly Lock[] _stripes = [.. Enumerable.Range(0, Stripes).Select(_ => new Lock())];
    private readonly TimeProvider _time;
    private long _bytes;
    private volatile bool _loaded;

    public ChunkInventory(TimeProvider time) => _time = time;

    /// <summary>One chunk's bookkeeping. Times are nanoseconds since the epoch.</summary>
    public sealed class Entry(long length, long inUseNs, long usedNs)
    {
        public long Length { get; } = length;
        public long InUseNs = inUseNs;
        public long UsedNs = usedNs;
    }

    /// <summary>True once the store's chunks were loaded: until then nothing may be collected or evicted.</summary>
    public bool Loaded => _loaded;

    public int Count => _entries.Count;

    public long Bytes => Interlocked.Read(ref _bytes);

    public long NowNs => _time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000L;

    /// <summary>
    /// Takes the store's chunks. Each counts as in use now (a restart gives every unreferenced chunk a full grace period,
    /// since this node cannot know how long it was unreferenced before) and as read when it was written.
    /// </summary>
    public void Load(IEnumerable<LocalChunk> chunks)
    {
        var now = NowNs;
        foreach (var chunk in chunks)
        {
            if (_entries.TryAdd(chunk.Id, new Entry(chunk.Length, now, Math.Min(now, chunk.ModifiedNs)))) Interlocked.Add(ref _bytes, chunk.Length);
        }
        _loaded = true;
    }

    /// <summary>A writer of this node stored the chunk or found it present (dedupe): it is in use from now.</summary>
    public void Storing(ChunkId id, long length) => MarkInUse(id, length);

    /// <summary>The chunk arrived from a peer (fetched, pushed, repaired).</summary>
    public void Added(ChunkId id, long length) => MarkInUse(id, length);

    /// <summary>The tree let go of the chunk's last reference now: the grace period counts from here.</summary>
    public void Freed(ChunkId id)
    {
        if (_entries.TryGetValue(id, out var entry)) Volatile.Write(ref entry.InUseNs, NowNs);
    }

    /// <summary>A reader used the chunk (the cache evicts the least recently used).</summary>
    public void Used(ChunkId id)
    {
        if (_entries.TryGetValue(id, out var entry)) Volatile.Write(ref entry.UsedNs, NowNs);
    }

    /// <summary>The chunk turned out missing or corrupt (and quarantined): it is not held any more.</summary>
    public void Lost(ChunkId id)
    {
        lock (Stripe(id))
        {
            if (_entries.TryRemove(id, out var entry)) Interlocked.Add(ref _bytes, -entry.Length);
        }
    }

    public bool Contains(ChunkId id) => _entries.ContainsKey(id);

    public Entry? Find(ChunkId id) => _entries.GetValueOrDefault(id);

    /// <summary>Every chunk with its bookkeeping (a moment's view; entries may come and go while it is walked).</summary>
    public IEnumerable<KeyValuePair<ChunkId, Entry>> All() => _entries;

    /// <summary>
    /// Deletes the chunk when <paramref name="stillDeletable"/>, asked under the chunk's lock, says so: a writer that
    /// marks the chunk in use (<see cref="Storing"/>) either runs before (and the check sees it) or after (and finds the
    /// file gone, and writes it again).
    /// </summary>
    public bool TryDelete(ChunkId id, Func<Entry, bool> stillDeletable, ILocalChunks store)
    {
        lock (Stripe(id))
        {
            if (!_entries.TryGetValue(id, out var entry) || !stillDeletable(entry)) return false;
            store.Delete(id);
            if (_entries.TryRemove(id, out _)) Interlocked.Add(ref _bytes, -entry.Length);
            return true;
        }
    }

    private void MarkInUse(ChunkId id, long length)
    {
        var now = NowNs;
        lock (Stripe(id))
        {
            if (_entries.TryGetValue(id, out var entry))
            {
                Volatile.Write(ref entry.InUseNs, now);
                return;
            }
            if (_entries.TryAdd(id, new Entry(length, now, now))) Interlocked.Add(ref _bytes, length);
        }
    }

    private Lock Stripe(ChunkId id) => _stripes[(uint)id.GetHashCode() % Stripes];
}
