using DinoMesh.Core.Chunks;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Serves this node's chunks to peers (<c>/dinomesh/chunk/1</c>): get by id (verified before it leaves, so a corrupt
/// local copy is quarantined rather than sent), put (verified before it is kept), has, sync and usage. Reads of whole
/// chunks are bounded in number, so a burst of fetches cannot hold unbounded memory.
/// </summary>
public sealed class ChunkServer
{
    private readonly ILocalChunks _store;
    private readonly ChunkInventory _inventory;
    private readonly Func<UsageAnswer> _usage;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _reads;
    private long _served, _servedBytes, _received, _receivedBytes;

    public ChunkServer(ILocalChunks store, ChunkInventory inventory, Func<UsageAnswer> usage, ILogger logger, int maxConcurrentReads = 16)
    {
        _store = store;
        _inventory = inventory;
        _usage = usage;
        _logger = logger;
        _reads = new SemaphoreSlim(maxConcurrentReads);
    }

    /// <summary>Chunks sent to peers and taken from them, with their bytes, since start.</summary>
    public (long Served, long ServedBytes, long Received, long ReceivedBytes) Counters =>
        (Interlocked.Read(ref _served), Interlocked.Read(ref _servedBytes), Interlocked.Read(ref _received), Interlocked.Read(ref _receivedBytes));

    /// <summary>Serves the chunk protocol on <paramref name="transport"/> (call before it starts).</summary>
    public void Register(PeerTransport transport) => transport.RegisterUnary(ProtocolIds.Chunk, ChunkCodec.MaxMessageBytes, HandleAsync);

    /// <summary>The transport's handler: decode (a malformed request is 400), answer, encode.</summary>
    public async ValueTask<byte[]> HandleAsync(PeerContext peer, ReadOnlyMemory<byte> body, CancellationToken ct)
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
        return ChunkCodec.Encode(await HandleAsync(peer.Peer, request, ct));
    }

    public async ValueTask<ChunkAnswer> HandleAsync(PeerId from, ChunkRequest request, CancellationToken ct)
    {
        switch (request)
        {
            case GetChunk get:
                return await GetAsync(from, get.Id, ct);
            case PutChunk put:
                return await Task.Run(() => Put(from, put), ct);
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

    private async Task<ChunkAnswer> GetAsync(PeerId from, ChunkId id, CancellationToken ct)
    {
        await _reads.WaitAsync(ct);
        try
        {
            // Read once, straight behind the answer's envelope: encoding the answer then copies nothing.
            var (status, array, offset) = await Task.Run(() => _store.ReadWithRoom(id, ChunkCodec.FoundEnvelope), ct);
            if (status == LocalRead.Ok && array is not null)
            {
                var length = array.Length - offset;
                ChunkCodec.WriteFoundEnvelope(array, length);
                _inventory.Used(id);
                Interlocked.Increment(ref _served);
                Interlocked.Add(ref _servedBytes, length);
                return new ChunkFound(array.AsMemory(offset, length));
            }
            if (status is LocalRead.NotFound or LocalRead.Corrupt) _inventory.Lost(id);
            if (status == LocalRead.Corrupt) _logger.LogWarning("chunk {Chunk} asked for by {Peer} is corrupt here (quarantined); answered as missing", id, from);
            return new ChunkMissing();
        }
        finally
        {
            _reads.Release();
        }
    }

    private PutAnswer Put(PeerId from, PutChunk put)
    {
        if (!VerifiedChunk.TryVerify(put.Id, put.Bytes, out var chunk))
        {
            _logger.LogWarning("peer {Peer} pushed bytes that do not hash to chunk {Chunk}; not kept", from, put.Id);
            return new PutAnswer(PutOutcome.Corrupt);
        }
        // In use before it is written, so garbage collection cannot take a copy that a commit is about to reference.
        _inventory.Pushed(put.Id, chunk.Value.Length, from);
        var outcome = _store.Import(chunk.Value) switch
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
