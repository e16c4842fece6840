using System.Collections.Concurrent;
using System.Net;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Node;
using DinoMesh.Storage;
using DinoMesh.Storage.Chunks;
using DinoMesh.Transport;
using DinoMesh.Transport.Identity;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Load.Chunks;

/// <summary>One node for the benchmark: a disk chunk store in a temp data directory, a real TLS transport, a chunk server.</summary>
internal sealed class BenchNode : IAsyncDisposable
{
    private readonly DataDirectory _data;

    public BenchNode(string root, string name, SetAdmission admission)
    {
        Path = System.IO.Path.Combine(root, name);
        _data = DataDirectory.Open(Path);
        Store = new ChunkStore(_data);
        Local = new StoreChunks(Store);
        Identity = NodeIdentity.LoadOrCreate(Path);
        admission.Admit(Identity.PeerId);
        Transport = new PeerTransport(Identity, new TransportOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0) }, admission, NullLoggerFactory.Instance);
        Inventory = new ChunkInventory(TimeProvider.System);
        Server = new ChunkServer(Local, Inventory, () => new UsageAnswer(0, 0, 0, 0, 0, 0), NullLogger.Instance);
        Server.Register(Transport);
        Network = new TransportChunkNetwork(Transport);
    }

    public string Path { get; }
    public ChunkStore Store { get; }
    public StoreChunks Local { get; }
    public NodeIdentity Identity { get; }
    public PeerTransport Transport { get; }
    public ChunkInventory Inventory { get; }
    public ChunkServer Server { get; }
    public TransportChunkNetwork Network { get; }
    public ChunkPeer Peer => new(Identity.PeerId, Transport.ListenEndPoint!.ToString());

    public Task StartAsync() => Transport.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await Transport.DisposeAsync();
        Identity.Dispose();
        _data.Dispose();
    }
}

internal sealed class SetAdmission : IAdmission
{
    private readonly ConcurrentDictionary<PeerId, bool> _members = new();

    public void Admit(PeerId peer) => _members[peer] = true;

    public bool IsAdmitted(PeerId peer) => _members.ContainsKey(peer);
}

internal sealed class StaticCluster(PeerId self, IReadOnlyList<ChunkPeer> live) : IChunkCluster
{
    public PeerId Self { get; } = self;

    public IReadOnlyList<ChunkPeer> Live() => live;
}
