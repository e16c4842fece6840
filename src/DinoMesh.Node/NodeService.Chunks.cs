using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Buffers;
using DinoMesh.Core.Metadata;
using DinoMesh.Volume;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Node;

// The chunk layer between the volume and the cluster: fetch through peers, replicate before commit, repair, GC, cache.
public sealed partial class NodeService
{
    /// <summary>The size this node cuts files into: the volume's blocks and the read-ahead's step (checked at start).</summary>
    private static int ChunkSize => HiddenSettings.ChunkSize ?? new VolumeOptions().ChunkSize;

    /// <summary>
    /// Builds the chunk service over the disk store and the peer transport, hands it to the chunk protocol's handler,
    /// and returns what the volume uses: the commit policy that replicates new chunks first, and the chunk access that
    /// fetches what this node lacks.
    /// </summary>
    private (IMetadataCommitter Meta, ChunkAccess Access) StartChunks(TaskCompletionSource<ChunkService> served)
    {
        var cluster = _cluster!;
        var replica = _replica!;
        // Said only when set: a benchmark or test that sets it sees in the log that the node took it.
        if (HiddenSettings.ChunkSize is { } size) _logger.LogInformation("chunk size {Size} bytes ({Variable})", size, HiddenSettings.ChunkSizeVariable);
        var options = _options.Chunks;
        if (HiddenSettings.ChunkFreeReserve is { } reserve)
        {
            _logger.LogInformation("chunk disk free-space reserve {Reserve} bytes ({Variable})", reserve, HiddenSettings.ChunkFreeReserveVariable);
            options = options with { FreeSpaceReserve = reserve };
        }
        if (HiddenSettings.RepairSeconds is { } seconds)
        {
            _logger.LogInformation("repair scan every {Seconds} s ({Variable})", seconds, HiddenSettings.RepairSecondsVariable);
            options = options with { RepairInterval = TimeSpan.FromSeconds(seconds) };
        }
        // One pool for the chunks this node serves and the ones it fetches: both are whole chunks, sent or received.
        var buffers = new BufferPool();
        var service = new ChunkService(
            new StoreChunks(_chunks!),
            new TransportChunkNetwork(cluster.Transport, buffers),
            new MembershipChunkCluster(cluster.Self, () => replica.Current, () => cluster.Membership.Members),
            () => replica.Current,
            options,
            TimeProvider.System,
            _loggers,
            buffers);
        _chunkService = service;
        served.TrySetResult(service);
        replica.Applied += service.OnApplied;
        var access = new ChunkAccess(_chunks!, _loggers.CreateLogger("volume"), service.Fetcher, new ChunkAccessOptions { ChunkSize = ChunkSize },
            service.Room);
        access.Stored += service.OnStored;
        access.Imported += service.OnImported;
        access.Lost += service.OnLost;
        access.Used += service.OnUsed;
        return (new ReplicatingCommitter(_committer!, service.Replicator), access);
    }
}
