using DinoMesh.Core.Chunks;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// The chunk writers' <see cref="IChunkRoom"/> in a cluster: the chunk cache gives up cached chunks (confirmed at their
/// placement nodes) when a write finds the chunk disk full. The stores are synchronous (a seal worker, a flush, a
/// fetched chunk's import, a repair worker, the compactor), so this waits, for at most
/// <see cref="ChunkOptions.MakeRoomDeadline"/>.
/// </summary>
public sealed class CacheRoom(ChunkCache cache, ILogger logger) : IChunkRoom
{
    public bool TryMakeRoom(long bytes)
    {
        var made = MakeRoom(bytes);
        logger.LogDebug("the chunk disk was full for {Bytes} bytes: {Outcome}", bytes, made ? "room made, trying again" : "no room could be made");
        return made;
    }

    private bool MakeRoom(long bytes)
    {
        var deadline = cache.Options.MakeRoomDeadline;
        // Not disposed: the eviction may still hold the token when the wait below gives up; its timer ends with it.
        var cts = new CancellationTokenSource(deadline);
        var making = cache.MakeRoomAsync(bytes, cts.Token);
        try
        {
            // The eviction stops at the token; the wait also bounds a continuation that finds no thread to run on.
            return making.Wait(deadline + TimeSpan.FromMilliseconds(500)) && making.Result;
        }
        catch (AggregateException)
        {
            // Cancelled while waiting for another write's eviction, or a failed call: no room made.
            return false;
        }
    }
}
