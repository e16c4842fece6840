using DinoMesh.Core.Chunks;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// The chunk writers' <see cref="IChunkRoom"/> in a cluster: the chunk cache gives up cached chunks (confirmed at their
/// placement nodes) when a write finds the chunk disk full. The volume's stores are synchronous (a seal worker, a flush,
/// a fetched chunk's import, the compactor), so <see cref="TryMakeRoom"/> waits, for at most
/// <see cref="ChunkOptions.MakeRoomDeadline"/>; a pushed chunk's put, repair's pull and fallocate await
/// <see cref="MakeRoomAsync"/> instead, within the same deadline, holding no thread. <see cref="Evictable"/> is the
/// cache's last count of what it could give up (<see cref="ChunkCache.Evictable"/>).
/// </summary>
public sealed class CacheRoom(ChunkCache cache, ILogger logger) : IChunkRoom
{
    public long Evictable => cache.Evictable;

    public bool TryMakeRoom(long bytes)
    {
        var deadline = cache.Options.MakeRoomDeadline;
        // Not disposed: the eviction may still hold the token when the wait below gives up; its timer ends with it.
        var cts = new CancellationTokenSource(deadline);
        var making = cache.MakeRoomAsync(bytes, cts.Token);
        bool made;
        try
        {
            // The eviction stops at the token; the wait also bounds a continuation that finds no thread to run on.
            made = making.Wait(deadline + TimeSpan.FromMilliseconds(500)) && making.Result;
        }
        catch (AggregateException)
        {
            // Cancelled while waiting for another write's eviction, or a failed call: no room made.
            made = false;
        }
        return Said(bytes, made);
    }

    public async Task<bool> MakeRoomAsync(long bytes, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(cache.Options.MakeRoomDeadline);
        bool made;
        try
        {
            made = await cache.MakeRoomAsync(bytes, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The deadline passed while waiting for another write's eviction: no room made.
            made = false;
        }
        return Said(bytes, made);
    }

    private bool Said(long bytes, bool made)
    {
        logger.LogDebug("the chunk disk was full for {Bytes} bytes: {Outcome}", bytes, made ? "room made, trying again" : "no room could be made");
        return made;
    }
}
