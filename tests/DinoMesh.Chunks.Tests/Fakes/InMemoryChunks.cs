using System.Collections.Concurrent;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Chunks.Tests.Fakes;

/// <summary>A chunk store in memory, verified on read like the disk one; a test can damage a chunk in place.</summary>
internal sealed class InMemoryChunks : ILocalChunks
{
    private readonly ConcurrentDictionary<ChunkId, byte[]> _chunks = new();

    public int SyncCount;

    /// <summary>When set, <see cref="Sync"/> reports a writeback error (after counting the call).</summary>
    public volatile bool FailSync;

    public int Count => _chunks.Count;

    /// <summary>When set, the size of the disk this store pretends to be on: its free space is what its chunks leave.</summary>
    public long? DiskBytes;

    public (long Total, long Free)? Capacity() => DiskBytes is { } total ? (total, total - _chunks.Values.Sum(c => (long)c.Length)) : null;

    public IEnumerable<ChunkId> Ids => _chunks.Keys;

    public (LocalRead Status, byte[]? Bytes) Read(ChunkId id)
    {
        if (!_chunks.TryGetValue(id, out var bytes)) return (LocalRead.NotFound, null);
        if (ChunkId.Of(bytes) == id) return (LocalRead.Ok, bytes.ToArray());
        _chunks.TryRemove(id, out _);
        return (LocalRead.Corrupt, null);
    }

    /// <summary>When set (with <see cref="DiskBytes"/>), an import that does not fit in the free space answers ENOSPC, as a full disk does.</summary>
    public volatile bool RefuseWhenFull;

    /// <summary>Imports that answered ENOSPC.</summary>
    public int Refused;

    public LocalWrite Import(VerifiedChunk chunk)
    {
        if (RefuseWhenFull && !Contains(chunk.Id) && Capacity() is { } disk && disk.Free < chunk.Length)
        {
            Interlocked.Increment(ref Refused);
            return LocalWrite.NoSpace;
        }
        return _chunks.TryAdd(chunk.Id, chunk.Bytes.ToArray()) ? LocalWrite.Stored : LocalWrite.AlreadyPresent;
    }

    public bool Contains(ChunkId id) => _chunks.ContainsKey(id);

    public bool Delete(ChunkId id) => _chunks.TryRemove(id, out _);

    public IEnumerable<LocalChunk> Inventory() => _chunks.Select(c => new LocalChunk(c.Key, c.Value.Length, 0));

    public bool Sync()
    {
        Interlocked.Increment(ref SyncCount);
        return !FailSync;
    }

    /// <summary>Adds bytes under their own id; returns the id.</summary>
    public ChunkId Add(byte[] bytes)
    {
        var id = ChunkId.Of(bytes);
        _chunks[id] = bytes.ToArray();
        return id;
    }

    /// <summary>Flips a byte of the stored copy (bit rot).</summary>
    public void Damage(ChunkId id) => _chunks[id][0] ^= 0xFF;
}
