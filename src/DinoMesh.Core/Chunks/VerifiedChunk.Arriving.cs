using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace DinoMesh.Core.Chunks;

public readonly partial struct VerifiedChunk
{
    /// <summary>
    /// Verifies a chunk while its bytes land in the memory it will be read from: each piece is hashed as soon as it
    /// arrived (a fetched chunk's bytes right after TLS decrypted them into the answer's buffer, still in the CPU's cache),
    /// and <see cref="TryFinish"/> compares the whole hash with the id once every byte arrived. It yields a
    /// <see cref="VerifiedChunk"/> only over exactly the memory given here, so the bytes a reader gets are the bytes
    /// hashed; as with <see cref="TryVerify"/>, whoever fills that memory must not change a byte after reporting it.
    /// Not thread-safe: one receive loop feeds it.
    /// </summary>
    public sealed class Arriving : IDisposable
    {
        private readonly ChunkId _id;
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private int _hashed;
        private bool _finished;

        /// <param name="id">The id the bytes must hash to.</param>
        /// <param name="bytes">Where the chunk's bytes arrive, in order from the first; its length is the chunk's.</param>
        public Arriving(ChunkId id, ReadOnlyMemory<byte> bytes)
        {
            _id = id;
            Bytes = bytes;
        }

        /// <summary>The memory the chunk arrives in.</summary>
        public ReadOnlyMemory<byte> Bytes { get; }

        /// <summary>Bytes hashed so far (from the start of <see cref="Bytes"/>).</summary>
        public int Hashed => _hashed;

        /// <summary>
        /// The first <paramref name="count"/> bytes of <see cref="Bytes"/> have arrived and will not change: hashes those
        /// not hashed yet. A count at or below what was hashed already does nothing.
        /// </summary>
        public void ArrivedUpTo(int count)
        {
            ObjectDisposedException.ThrowIf(_finished, this);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Bytes.Length);
            if (count <= _hashed) return;
            _hash.AppendData(Bytes.Span[_hashed..count]);
            _hashed = count;
        }

        /// <summary>
        /// True, with the verified chunk, when every byte of <paramref name="bytes"/> arrived and was hashed here (it is the
        /// very memory given to the constructor: same array, offset and length) and the hash is the id. Answers once:
        /// afterwards (and after <see cref="Dispose"/>) it is false.
        /// </summary>
        public bool TryFinish(ReadOnlyMemory<byte> bytes, [NotNullWhen(true)] out VerifiedChunk? chunk)
        {
            chunk = null;
            if (_finished || _hashed != Bytes.Length || !bytes.Equals(Bytes)) return false;
            _finished = true;
            Span<byte> digest = stackalloc byte[ChunkId.Size];
            _hash.GetHashAndReset(digest);
            _hash.Dispose();
            if (ChunkId.FromBytes(digest) == _id) chunk = new VerifiedChunk(_id, Bytes);
            return chunk is not null;
        }

        public void Dispose()
        {
            _finished = true;
            _hash.Dispose();
        }
    }
}
