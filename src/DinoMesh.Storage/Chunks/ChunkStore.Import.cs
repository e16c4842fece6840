using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;
using DinoMesh.Storage.Native;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Storage.Chunks;

/// <summary>A chunk file as the store holds it: its id, length and when it was last written (ns since the epoch).</summary>
public readonly record struct StoredChunk(ChunkId Id, long Length, long ModifiedNs);

// Bytes from elsewhere (a peer, a repair) and the inventory the cluster's bookkeeping starts from.
public sealed partial class ChunkStore
{
    /// <summary>
    /// Stores bytes that were already checked against their id (fetched from a peer, pushed by one), through a temp file
    /// and a rename like <see cref="Put"/>, without hashing them a second time. A file of the wrong length under that id
    /// (a damaged copy) is replaced.
    /// </summary>
    public ChunkWriteResult Import(VerifiedChunk chunk) => WriteNew(chunk.Id, chunk.Bytes.Span);

    /// <summary>
    /// <see cref="Import"/> of a chunk the caller found missing here moments ago (it fetched it for that reason): the
    /// store does not look again before writing. The file is published with renameat2(RENAME_NOREPLACE), so a copy of
    /// the right length that arrived meanwhile is kept (<see cref="ChunkWriteStatus.AlreadyPresent"/>, the new file
    /// removed) and one of the wrong length replaced, as <see cref="Import"/> does. A failing statx fewer per fetched
    /// chunk; a caller that is not sure the chunk is missing (a peer's push) should use <see cref="Import"/>, which
    /// writes nothing for a chunk already there.
    /// <para>A large chunk (256 KiB and more) is written with O_DIRECT (docs/benchmarks.md, "Remote cold read: a
    /// fetched chunk imported past the page cache"): the reader has the bytes in memory already (the recent-fetch
    /// memory), so the chunk file's pages would be a second copy that the writeback worker writes back and drops
    /// moments later. The call returns once the device has the whole pages (no device cache flush; a tail shorter
    /// than a page goes through the page cache); durability is unchanged (<see cref="SyncAll"/>'s syncfs), and so is
    /// what a crash leaves (a temp file, swept at start). Where the file system refuses O_DIRECT, through the page
    /// cache as before.</para>
    /// </summary>
    public ChunkWriteResult ImportFetched(VerifiedChunk chunk, bool background = false) => WriteNew(chunk.Id, chunk.Bytes.Span, lookFirst: false, direct: true, background: background);

    /// <summary>
    /// Reads the whole chunk into a new array, verified like <see cref="Read"/> (a corrupt file is quarantined and
    /// reported, never returned). For serving a peer and for pushing a copy.
    /// </summary>
    public (ChunkReadStatus Status, byte[]? Bytes) ReadAll(ChunkId id)
    {
        var (status, bytes, _) = ReadAllWithRoom(id, static _ => 0);
        return (status, bytes);
    }

    /// <summary>
    /// <see cref="ReadAll"/> into an array that starts with <paramref name="room"/>(length) bytes left free for the
    /// caller (a message envelope): the chunk is <c>Array[Offset..]</c>, to the end of the array.
    /// </summary>
    public (ChunkReadStatus Status, byte[]? Array, int Offset) ReadAllWithRoom(ChunkId id, Func<int, int> room)
    {
        long length = Length(id);
        if (length < 0) return (ChunkReadStatus.NotFound, null, 0);
        if (length > int.MaxValue - 64) return (ChunkReadStatus.Corrupt, null, 0);
        int offset = room((int)length);
        // Not cleared first: the read fills the chunk's part, the caller the room, and a short or failed read drops the array.
        var array = GC.AllocateUninitializedArray<byte>(offset + (int)length);
        var result = Read(id, 0, array.AsSpan(offset));
        if (!result.Succeeded) return (result.Status, null, 0);
        // A file that changed length between the stat and the read did not verify as these bytes.
        return result.BytesRead == length ? (ChunkReadStatus.Ok, array, offset) : (ChunkReadStatus.Corrupt, null, 0);
    }

    /// <summary>
    /// <see cref="ReadAll"/> into a buffer rented from <paramref name="buffers"/>: page-aligned, so a whole chunk of
    /// whole pages is read with O_DIRECT straight into it and checked there (<see cref="Read"/>), no copy. On success
    /// the buffer's one reference is the caller's; otherwise it was released here and nothing is returned.
    /// </summary>
    public (ChunkReadStatus Status, PooledBuffer? Chunk) ReadAllPooled(ChunkId id, BufferPool buffers)
    {
        string path = PathOf(id);
        // A whole chunk is read past the page cache when it has its at-rest checksum (nearly always): O_DIRECT is
        // given at open, so the read needs no fcntl to switch the handle and no statx of the path to learn the
        // length (the open file's own statx, which the read needs anyway, says it). Three system calls fewer per
        // chunk served; a file without a checksum is switched back to the page cache, as before.
        bool direct = _options.DirectReads && Volatile.Read(ref _directReadsRefused) == 0;
        if (OpenChunk(id, path, ref direct, out var failure) is not { } handle) return (failure.Status, null);
        using (handle)
        {
            FileIdentity file;
            try
            {
                file = IdentityOf(handle);
            }
            catch (IOException e)
            {
                _logger.LogError(e, "Cannot read chunk {Path}", path);
                return (ChunkReadStatus.Io, null);
            }
            if (file.Length > int.MaxValue - BufferPool.Alignment) return (ChunkReadStatus.Corrupt, null);
            var buffer = buffers.Rent((int)file.Length);
            var lent = false;
            try
            {
                var result = ReadOpen(id, path, handle, file, direct, 0, buffer.Memory.Span);
                if (!result.Succeeded) return (result.Status, null);
                // A file that changed length between the statx and the read did not verify as these bytes.
                if (result.BytesRead != file.Length) return (ChunkReadStatus.Corrupt, null);
                lent = true;
                return (ChunkReadStatus.Ok, buffer);
            }
            finally
            {
                if (!lent) buffer.Release();
            }
        }
    }

    /// <summary>Every chunk file with its length and modification time (no verification; quarantine excluded).</summary>
    public IEnumerable<StoredChunk> Inventory()
    {
        foreach (var id in Enumerate())
        {
            if (FileIdentity.OfPath(PathOf(id)) is { } file) yield return new StoredChunk(id, file.Length, file.ModifiedNs);
        }
    }
}
