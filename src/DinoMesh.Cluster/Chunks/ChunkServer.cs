using DinoMesh.Core.Buffers;
using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Serves this node's chunks to peers (<c>/dinomesh/chunk/1</c>): get by id (verified before it leaves, so a corrupt
/// local copy is quarantined rather than sent), put (verified before it is kept), has, sync and usage. Reads of whole
/// chunks are bounded in number, so a burst of fetches cannot hold unbounded memory. A put that finds the disk full asks
/// the room (the cache) and tries again (<see cref="ChunkRoom.WriteAsync"/>), as this node's own writers do: a chunk a
/// writer pushes here is one of its R copies, and comes before one this node only caches. NoSpace is answered only when
/// no room could be made.
/// </summary>
public sealed class ChunkServer
{
    private readonly ILocalChunks _store;
    private readonly ChunkInventory _inventory;
    private readonly Func<UsageAnswer> _usage;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _reads;
    private readonly BufferPool _buffers;
    private readonly IChunkRoom? _room;
    private long _served, _servedBytes, _received, _receivedBytes;

    /// <param name="buffers">Where served chunks are read to be sent from (a pool of its own when null).</param>
    /// <param name="room">Asked for room when a pushed chunk finds the disk full (none: NoSpace at once).</param>
    public ChunkServer(ILocalChunks store, ChunkInventory inventory, Func<UsageAnswer> usage, ILogger logger, int maxConcurrentReads = 16, BufferPool? buffers = null,
        IChunkRoom? room = null)
    {
        _room = room;
        _store = store;
        _inventory = inventory;
        _usage = usage;
        _logger = logger;
        _reads = new SemaphoreSlim(maxConcurrentReads);
        _buffers = buffers ?? new BufferPool();
    }

    /// <summary>Chunks sent to peers and taken from them, with their bytes, since start.</summary>
    public (long Served, long ServedBytes, long Received, long ReceivedBytes) Counters =>
        (Interlocked.Read(ref _served), Interlocked.Read(ref _servedBytes), Interlocked.Read(ref _received), Interlocked.Read(ref _receivedBytes));

    /// <summary>Serves the chunk protocol on <paramref name="transport"/> (call before it starts).</summary>
    public void Register(PeerTransport transport) => Register(transport, Task.FromResult(this));

    /// <summary>
    /// Serves the chunk protocol on <paramref name="transport"/> from a server that may exist only later (a node opens
    /// its transport before its chunk layer): requests wait for it within their own deadline. The one registration the
    /// node and the tests share, so the node cannot drift back to an answer that copies each chunk into a fresh array.
    /// </summary>
    public static void Register(PeerTransport transport, Task<ChunkServer> server) =>
        transport.RegisterLendingUnary(ProtocolIds.Chunk, ChunkCodec.MaxMessageBytes,
            async (peer, body, ct) => await (await server.WaitAsync(ct).ConfigureAwait(false)).HandleLendingAsync(peer, body, ct).ConfigureAwait(false));

    /// <summary>The transport's handler as an array (what HTTP/2 and the lean path send): a found chunk copied behind its envelope.</summary>
    public async ValueTask<byte[]> HandleAsync(PeerContext peer, ReadOnlyMemory<byte> body, CancellationToken ct) =>
        (await HandleLendingAsync(peer, body, ct)).ToArrayAndRelease();

    /// <summary>
    /// The transport's handler: decode (a malformed request is 400), answer, encode. A found chunk is answered as its
    /// envelope followed by the pooled buffer it was read into, lent to the transport, which sends it as it lies and
    /// then releases it: no answer array, no copy.
    /// </summary>
    public async ValueTask<LentAnswer> HandleLendingAsync(PeerContext peer, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        ChunkRequest request;
        try
        {
            request = ChunkCodec.DecodeRequest(body);
        }
        catch (InvalidDataException e)
        {
            throw new PeerCallException(CallFailure.BadRequest, e.Message);
        }
        if (request is not GetChunk get) return new LentAnswer(ChunkCodec.Encode(await HandleAsync(peer.Peer, request, ct)));
        var chunk = await GetAsync(peer.Peer, get.Id, ct);
        if (chunk is null) return new LentAnswer(ChunkCodec.Encode(new ChunkMissing()));
        var envelope = new byte[ChunkCodec.FoundEnvelope(chunk.Length)];
        ChunkCodec.WriteFoundEnvelope(envelope, chunk.Length);
        return new LentAnswer(envelope, chunk);
    }

    public async ValueTask<ChunkAnswer> HandleAsync(PeerId from, ChunkRequest request, CancellationToken ct)
    {
        switch (request)
        {
            case GetChunk get:
                // An answer that outlives this call: the chunk in an array of its own, the pooled buffer given back.
                var chunk = await GetAsync(from, get.Id, ct);
                if (chunk is null) return new ChunkMissing();
                try
                {
                    return new ChunkFound(chunk.Memory.ToArray());
                }
                finally
                {
                    chunk.Release();
                }
            case PutChunk put:
                // Off the connection's reader: the hash and the write take a while, and a full disk waits for the room.
                return await Task.Run(() => PutAsync(from, put, ct), ct);
            case HasChunks has:
                return new HasAnswer([.. has.Ids.Select(_store.Contains)]);
            case SyncChunks:
                return new SyncAnswer(await Task.Run(_store.Sync, ct));
            case UsageQuery:
                return _usage();
            default:
                throw new PeerCallException(CallFailure.BadRequest, "unknown chunk request");
        }
    }

    /// <summary>The chunk in a pooled buffer whose one reference is the caller's, or null when it is not served from here.</summary>
    private async Task<PooledBuffer?> GetAsync(PeerId from, ChunkId id, CancellationToken ct)
    {
        await _reads.WaitAsync(ct);
        try
        {
            // Read straight into a pooled page-aligned buffer (O_DIRECT lands there: no copy, no fresh megabyte), on
            // the thread the request came on: every path runs this handler off its connection's reader (the bulk path on
            // the connection's own loop, one call at a time; HTTP/2 and the lean path on a worker), so a hop to another
            // worker for the read, and one back for the send, would only add two thread wake-ups per chunk served.
            ct.ThrowIfCancellationRequested();
            var (status, chunk) = _store.ReadPooled(id, _buffers);
            if (status == LocalRead.Ok && chunk is not null)
            {
                _inventory.Used(id);
                Interlocked.Increment(ref _served);
                Interlocked.Add(ref _servedBytes, chunk.Length);
                return chunk;
            }
            chunk?.Release();
            if (status is LocalRead.NotFound or LocalRead.Corrupt) _inventory.Lost(id);
            if (status == LocalRead.Corrupt) _logger.LogWarning("chunk {Chunk} asked for by {Peer} is corrupt here (quarantined); answered as missing", id, from);
            return null;
        }
        finally
        {
            _reads.Release();
        }
    }

    private async Task<PutAnswer> PutAsync(PeerId from, PutChunk put, CancellationToken ct)
    {
        if (!VerifiedChunk.TryVerify(put.Id, put.Bytes, out var chunk))
        {
            _logger.LogWarning("peer {Peer} pushed bytes that do not hash to chunk {Chunk}; not kept", from, put.Id);
            return new PutAnswer(PutOutcome.Corrupt);
        }
        // In use before it is written, so garbage collection cannot take a copy that a commit is about to reference.
        _inventory.Pushed(put.Id, chunk.Value.Length, from);
        var verified = chunk.Value;
        // The room is awaited, not waited for: puts come in on pool threads, up to a writer's pushes at once per peer.
        var written = await ChunkRoom.WriteAsync(_room, verified.Length, _ => _store.Import(verified), static w => w == LocalWrite.NoSpace, ct)
            .ConfigureAwait(false);
        var outcome = written switch
        {
            LocalWrite.Stored => PutOutcome.Stored,
            LocalWrite.AlreadyPresent => PutOutcome.AlreadyPresent,
            LocalWrite.NoSpace => PutOutcome.NoSpace,
            _ => PutOutcome.Failed,
        };
        if (outcome is PutOutcome.Stored or PutOutcome.AlreadyPresent)
        {
            Interlocked.Increment(ref _received);
            Interlocked.Add(ref _receivedBytes, chunk.Value.Length);
        }
        else
        {
            _inventory.Lost(put.Id);
        }
        return new PutAnswer(outcome);
    }
}
