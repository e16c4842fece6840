using System.Collections.Concurrent;
using System.Net;
using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Buffers;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;
using DinoMesh.Transport.Identity;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoMesh.Chunks.Tests.Fakes;

/// <summary>A node key, a real mutual-TLS transport on 127.0.0.1:0 and a chunk server over an in-memory store.</summary>
internal sealed class TlsNode : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dinomesh-chunks-tls-").FullName;

    /// <param name="lending">
    /// When given, the node serves and fetches as dino-node does: the server lends the buffers its chunks are read into
    /// (through this wrapper, <see cref="ChunkServer.HandleLendingAsync"/> when it returns it unchanged), and gets are
    /// received into <see cref="Answers"/>.
    /// </param>
    /// <param name="serverLater">
    /// When given, the chunk protocol is registered exactly as dino-node registers it (<see cref="ChunkServer.Register(PeerTransport, Task{ChunkServer})"/>)
    /// with a server that exists only once the task completes; <see cref="Server"/> is what the test completes it with.
    /// </param>
    public TlsNode(Admission admission, Func<ChunkServer, Func<PeerContext, ReadOnlyMemory<byte>, CancellationToken, ValueTask<byte[]>>>? wrap = null,
        Func<ChunkServer, LendingUnaryHandler>? lending = null, Task<ChunkServer>? serverLater = null)
    {
        Identity = NodeIdentity.LoadOrCreate(_dir);
        admission.Admit(Identity.PeerId);
        Transport = new PeerTransport(Identity, new TransportOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        }, admission, NullLoggerFactory.Instance);
        Server = new ChunkServer(Store, new ChunkInventory(TimeProvider.System), () => new UsageAnswer(1, 2, 3, 4, 5, 6), NullLogger.Instance, buffers: Served);
        if (serverLater is not null)
        {
            ChunkServer.Register(Transport, serverLater);
            Network = new TransportChunkNetwork(Transport, Answers);
            return;
        }
        if (lending is not null)
        {
            Transport.RegisterLendingUnary(ProtocolIds.Chunk, ChunkCodec.MaxMessageBytes, lending(Server));
            Network = new TransportChunkNetwork(Transport, Answers);
            return;
        }
        var handler = wrap?.Invoke(Server) ?? Server.HandleAsync;
        Transport.RegisterUnary(ProtocolIds.Chunk, ChunkCodec.MaxMessageBytes, (peer, body, ct) => handler(peer, body, ct));
        Network = new TransportChunkNetwork(Transport);
    }

    /// <summary>The buffers this node's chunk server reads served chunks into.</summary>
    public BufferPool Served { get; } = new();

    /// <summary>The buffers this node receives fetched chunks into (with <c>lending</c>).</summary>
    public BufferPool Answers { get; } = new();

    public NodeIdentity Identity { get; }
    public PeerTransport Transport { get; }
    public InMemoryChunks Store { get; } = new();
    public ChunkServer Server { get; }
    public TransportChunkNetwork Network { get; }
    public ChunkPeer Peer => new(Identity.PeerId, Transport.ListenEndPoint!.ToString());

    public async Task<TlsNode> StartAsync()
    {
        await Transport.StartAsync();
        return this;
    }

    public async ValueTask DisposeAsync()
    {
        await Transport.DisposeAsync();
        Identity.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>The admitted set, shared by the nodes of a test.</summary>
internal sealed class Admission : IAdmission
{
    private readonly ConcurrentDictionary<PeerId, bool> _members = new();

    public void Admit(PeerId peer) => _members[peer] = true;

    public bool IsAdmitted(PeerId peer) => _members.ContainsKey(peer);
}
