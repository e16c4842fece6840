using DinoMesh.Core.Buffers;

namespace DinoMesh.Volume;

/// <summary>
/// Verified chunk bytes lent out where they lie (a READ answered from the recent-fetch memory without a copy). Holds
/// one reference on the pooled buffer under them, released by the first <see cref="Dispose"/>; a chunk not in a pooled
/// buffer needs none (its memory is the collector's and never reused).
/// </summary>
public sealed class ChunkLoan : IDisposable
{
    private PooledBuffer? _lease;

    internal ChunkLoan(ReadOnlyMemory<byte> bytes, PooledBuffer? lease)
    {
        Bytes = bytes;
        _lease = lease;
    }

    public ReadOnlyMemory<byte> Bytes { get; }

    public void Dispose() => Interlocked.Exchange(ref _lease, null)?.Release();
}
