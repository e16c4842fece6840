using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests.Fakes;

/// <summary>
/// Chunk services of several nodes over in-memory stores and network, one tree and one live set: for tests of
/// replication, repair, the cache and collection without disks or sockets. Background loops are not started; tests
/// drive each mechanism by hand.
/// </summary>
internal sealed class MemoryCluster
{
    public MemoryCluster(int nodes, ChunkOptions options, TimeProvider? time = null)
    {
        Time = time ?? TimeProvider.System;
        Options = options;
        for (var i = 0; i < nodes; i++)
        {
            var peer = Peers.Peer($"node{i}");
            var store = new InMemoryChunks();
            var service = new ChunkService(store, Network, new FixedCluster(peer.Id, Live), () => State, options, Time, NullLoggerFactory.Instance);
            Network.Add(peer.Id, service.Server);
            Nodes.Add(new MemoryNode(peer, store, service));
        }
        Live.Set(Nodes.Select(n => n.Peer));
    }

    public List<MemoryNode> Nodes { get; } = [];
    public InMemoryChunkNetwork Network { get; } = new();
    public LiveSet Live { get; } = new();
    public TimeProvider Time { get; }
    public ChunkOptions Options { get; }

    /// <summary>The committed tree every node sees.</summary>
    public FileSystemState State { get; set; } = FileSystemState.Genesis(1);

    /// <summary>A tree with one file whose extents reference <paramref name="chunks"/> (1 KiB each, in order).</summary>
    public static FileSystemState TreeReferencing(IEnumerable<ChunkId> chunks)
    {
        var state = FileSystemState.Genesis(1);
        state = state.Apply(new Mutation { Kind = new CreateNode(FileSystemState.RootIno, FileName.FromString("f"), FileMode.Regular | 0x1A4, 0, 0, 0), TimeNs = 2 }).State;
        var extents = chunks.Select((id, i) => new Extent(i * 1024L, 1024, id, 0)).ToArray();
        var result = state.Apply(new Mutation { Kind = new WriteExtents(2, extents), TimeNs = 3 });
        Assert.True(result.Ok, $"write: {result.Error}");
        return result.State;
    }

    /// <summary>Nodes whose store holds the chunk.</summary>
    public IEnumerable<MemoryNode> Holders(ChunkId id) => Nodes.Where(n => n.Store.Contains(id));

    public void LoadInventories()
    {
        foreach (var n in Nodes) n.Service.Inventory.Load(n.Store.Inventory());
    }
}

internal sealed record MemoryNode(ChunkPeer Peer, InMemoryChunks Store, ChunkService Service);
