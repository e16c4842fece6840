using DinoMesh.Core.Chunks;
using DinoMesh.Transport;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Watches the answer to a get of <see cref="Id"/> arrive over the bulk path and hashes its chunk piece by piece, each
/// piece right after TLS decrypted it into the answer's buffer, while it is still in the CPU's cache: the profile of a
/// fully remote read had the SHA-256 of each fetched megabyte, hashed after the whole answer arrived, at a fifth of
/// the reader's CPU and well below the hash's speed on cached bytes. Nothing is believed here: <see cref="Verified"/>
/// gives a chunk only when the decoded answer's bytes are exactly the range hashed and the hash is the id.
/// </summary>
internal sealed class ArrivingChunk(ChunkId id) : IArrivalWatcher, IDisposable
{
    private ReadOnlyMemory<byte> _answer;
    private VerifiedChunk.Arriving? _chunk;
    private int _start;
    private bool _other;

    public ChunkId Id { get; } = id;

    public void Begin(ReadOnlyMemory<byte> answer)
    {
        _chunk?.Dispose();
        _chunk = null;
        _other = false;
        _answer = answer;
    }

    public void Arrived(int count)
    {
        if (_other) return;
        if (_chunk is null)
        {
            switch (ChunkCodec.LocateFound(_answer.Span[..count], _answer.Length, out var start, out var length))
            {
                case FoundLayout.NeedMoreBytes:
                    return;
                case FoundLayout.Other:
                    _other = true;
                    return;
            }
            _start = start;
            _chunk = new VerifiedChunk.Arriving(Id, _answer.Slice(start, length));
        }
        _chunk.ArrivedUpTo(Math.Max(0, count - _start));
    }

    /// <summary>The found answer's chunk, verified while it arrived; null when it was not (then the caller hashes it).</summary>
    public VerifiedChunk? Verified(ChunkFound found) => _chunk is not null && _chunk.TryFinish(found.Bytes, out var chunk) ? chunk : null;

    public void Dispose() => _chunk?.Dispose();
}
