using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Garbage collection: deletes chunks that no committed state references once they have been out of use for the grace
/// period — overwritten, truncated or deleted data, and chunks sealed but never committed (a crash between the two).
/// Out of use since the latest of: arriving here, being written or deduplicated against by a writer, being pushed here
/// (and, for a copy a writer pushed, that writer's latest push: it commits the file's first chunks only when the whole
/// file is written), and the commit that dropped its last reference (a restart counts as "now" for everything). Never deleted: a chunk
/// the committed tree references (open-but-unlinked files are still in the tree), a chunk in a file's staged extents
/// awaiting their commit whatever its age, and a chunk a writer marks in use while the deletion is decided (the check and
/// the unlink happen under the chunk's lock in <see cref="ChunkInventory.TryDelete"/>).
/// </summary>
public sealed class ChunkCollector
{
    private readonly ChunkInventory _inventory;
    private readonly ILocalChunks _store;
    private readonly Func<FileSystemState> _state;
    private readonly Func<IReadOnlySet<ChunkId>> _staged;
    private readonly ChunkOptions _options;
    private readonly ILogger _logger;
    private long _collected, _collectedBytes;

    public ChunkCollector(ChunkInventory inventory, ILocalChunks store, Func<FileSystemState> state, Func<IReadOnlySet<ChunkId>> staged,
        ChunkOptions options, ILogger logger)
    {
        _inventory = inventory;
        _store = store;
        _state = state;
        _staged = staged;
        _options = options;
        _logger = logger;
    }

    /// <summary>Chunks deleted and their bytes, since start.</summary>
    public (long Chunks, long Bytes) Collected => (Interlocked.Read(ref _collected), Interlocked.Read(ref _collectedBytes));

    /// <summary>A commit dropped the last references of these chunks: their grace period starts now.</summary>
    public void Freed(IEnumerable<ChunkId> chunks)
    {
        foreach (var id in chunks) _inventory.Freed(id);
    }

    /// <summary>Deletes every chunk whose grace period is over; returns how many and their bytes.</summary>
    public (int Chunks, long Bytes) Sweep()
    {
        if (!_inventory.Loaded) return (0, 0);
        var graceNs = (long)_options.GcGrace.TotalMilliseconds * 1_000_000L;
        var now = _inventory.NowNs;
        var state = _state();
        IReadOnlySet<ChunkId>? staged = null;
        var deleted = 0;
        long bytes = 0;
        foreach (var (id, entry) in _inventory.All())
        {
            if (state.ChunkRefs.ContainsKey(id) || now - _inventory.LastInUseNs(entry) < graceNs) continue;
            staged ??= _staged();
            if (staged.Contains(id)) continue;
            bool Deletable(ChunkInventory.Entry e) =>
                !_state().ChunkRefs.ContainsKey(id) && _inventory.NowNs - _inventory.LastInUseNs(e) >= graceNs;
            try
            {
                if (!_inventory.TryDelete(id, Deletable, _store)) continue;
            }
            catch (IOException e)
            {
                _logger.LogWarning("garbage collection could not delete chunk {Chunk}: {Error}", id, e.Message);
                continue;
            }
            deleted++;
            bytes += entry.Length;
        }
        if (deleted > 0)
        {
            Interlocked.Add(ref _collected, deleted);
            Interlocked.Add(ref _collectedBytes, bytes);
            _logger.LogInformation("garbage collection: deleted {Count} unreferenced chunks ({Bytes} bytes)", deleted, bytes);
        }
        return (deleted, bytes);
    }
}
