using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;

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

    /// <summary>How long after its own push a copy can be kept alive by its writer's later pushes: a day.</summary>
    public static readonly TimeSpan WriteSessionLimit = TimeSpan.FromDays(1);

    private static readonly long WriteSessionLimitNs = (long)WriteSessionLimit.TotalMilliseconds * 1_000_000L;

    private readonly ConcurrentDictionary<ChunkId, Entry> _entries = new();
    private readonly ConcurrentDictionary<PeerId, long> _lastPushNs = new();
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

        /// <summary>
        /// The peer that pushed the chunk here while writing, until a commit stops needing it (see <see cref="LastInUseNs"/>).
        /// Boxed so that a reader never sees half of an id being replaced.
        /// </summary>
        public volatile StrongBox<PeerId>? Pusher;
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

    /// <summary>The chunk arrived from a peer (fetched, repaired).</summary>
    public void Added(ChunkId id, long length) => MarkInUse(id, length);

    /// <summary>
    /// A writer on <paramref name="from"/> pushed the chunk here as an extra copy of data it has not committed yet. The
    /// copy is in use for as long as that writer keeps pushing (see <see cref="LastInUseNs"/>), not just for the grace
    /// period after this push: a file that takes longer than the grace to write commits its first chunks last.
    /// </summary>
    public void Pushed(ChunkId id, long length, PeerId from)
    {
        var entry = MarkInUse(id, length);
        if (from.IsEmpty) return;
        _lastPushNs[from] = NowNs;
        entry.Pusher = new StrongBox<PeerId>(from);
    }

    /// <summary>
    /// When the chunk was last in use: its own mark, or for a copy pushed by a writer, the writer's latest push (capped
    /// at <see cref="WriteSessionLimit"/> after the copy's own push, so a writer that never commits cannot pin garbage
    /// for ever).
    /// </summary>
    public long LastInUseNs(Entry entry)
    {
        var own = Volatile.Read(ref entry.InUseNs);
        if (entry.Pusher is not { } pusher || !_lastPushNs.TryGetValue(pusher.Value, out var session)) return own;
        return Math.Max(own, Math.Min(session, own + WriteSessionLimitNs));
    }

    /// <summary>The tree let go of the chunk's last reference now: the grace period counts from here.</summary>
    public void Freed(ChunkId id)
    {
        if (!_entries.TryGetValue(id, out var entry)) return;
        // Committed once and let go: the writer that pushed it has no further claim on this copy.
        entry.Pusher = null;
        Volatile.Write(ref entry.InUseNs, NowNs);
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

    private Entry MarkInUse(ChunkId id, long length)
    {
        var now = NowNs;
        lock (Stripe(id))
        {
            if (_entries.TryGetValue(id, out var entry))
            {
                Volatile.Write(ref entry.InUseNs, now);
                return entry;
            }
            entry = new Entry(length, now, now);
            if (_entries.TryAdd(id, entry)) Interlocked.Add(ref _bytes, length);
            return entry;
        }
    }

    private Lock Stripe(ChunkId id) => _stripes[(uint)id.GetHashCode() % Stripes];
}
