namespace DinoMesh.Core.Chunks;

/// <summary>
/// The one rule every chunk writer follows when the chunk disk is full: on ENOSPC ask <see cref="IChunkRoom"/> for room
/// and try again, up to <see cref="Tries"/> times while each ask makes room. Writers that hit ENOSPC together (a file's
/// seal workers, a read's fetches, repair's workers) share one eviction that makes room for all of them, and a store
/// that never asked can take that room first: the one that loses asks again. An ask that makes no room ends the tries
/// at once. Kept in one place so the user's store, the fetched chunk's import, repair's pull, the compactor's merged
/// chunk, a pushed chunk's put and fallocate's check cannot drift apart.
/// </summary>
public static class ChunkRoom
{
    /// <summary>How many times a write that found the disk full asks for room and tries again.</summary>
    public const int Tries = 3;

    /// <summary>
    /// Writes the chunk with <paramref name="write"/>, asking <paramref name="room"/> (none: one try) for
    /// <paramref name="bytes"/> after each try that <paramref name="noSpace"/> says found the disk full. The flag
    /// <paramref name="write"/> gets is true on the first try when a room will be asked after an ENOSPC: that ENOSPC is
    /// no news yet (the writer may log it quietly); the outcome of the last try is what counts.
    /// </summary>
    public static TResult Write<TChunk, TResult>(IChunkRoom? room, long bytes, TChunk chunk, Func<TChunk, bool, TResult> write, Func<TResult, bool> noSpace)
        where TChunk : allows ref struct
    {
        var result = write(chunk, room is not null);
        for (var tries = 0; room is not null && tries < Tries && noSpace(result) && room.TryMakeRoom(bytes); tries++)
        {
            result = write(chunk, false);
        }
        return result;
    }

    /// <summary>
    /// <see cref="Write"/> for writers that must not hold a thread while the room is made (a chunk a peer pushes here,
    /// repair's pull, fallocate's check): the same tries, the room asked with <see cref="IChunkRoom.MakeRoomAsync"/>.
    /// </summary>
    public static async Task<TResult> WriteAsync<TResult>(IChunkRoom? room, long bytes, Func<bool, TResult> write, Func<TResult, bool> noSpace,
        CancellationToken cancellationToken)
    {
        var result = write(room is not null);
        for (var tries = 0; room is not null && tries < Tries && noSpace(result) && await room.MakeRoomAsync(bytes, cancellationToken).ConfigureAwait(false); tries++)
        {
            result = write(false);
        }
        return result;
    }
}
