using System.Buffers;

namespace DinoMesh.Core.Buffers;

/// <summary>
/// An array of <see cref="ArrayPool{T}.Shared"/> held by reference count, so that bytes written into it once can be lent
/// to a second holder that outlives the first (a sealed block's chunk, read by the push that replicates it after the
/// block itself is gone). Rules as for <see cref="PooledBuffer"/>: <see cref="Rent"/> hands out one reference, every
/// holder releases its own exactly once, the last release returns the array; forgetting costs only the reuse.
/// </summary>
public sealed class SharedArray
{
    private HolderCount _holders = new(1);

    private SharedArray(byte[] array) => Array = array;

    /// <summary>An array of at least <paramref name="length"/> bytes, with one reference, the caller's.</summary>
    public static SharedArray Rent(int length) => new(ArrayPool<byte>.Shared.Rent(length));

    /// <summary>The bytes; only valid while the caller holds a reference.</summary>
    public byte[] Array { get; }

    /// <summary>References held now (0: back in the pool); for tests and assertions.</summary>
    public int References => _holders.Count;

    /// <summary>One more reference, for a second holder; the caller must hold one already.</summary>
    public void Retain() => _holders.Retain("an array");

    /// <summary>Gives up one reference; the last one returns the array to the pool. Exactly once per reference.</summary>
    public void Release()
    {
        if (_holders.Release("a shared array")) ArrayPool<byte>.Shared.Return(Array);
    }
}

/// <summary>
/// Bytes at <paramref name="Offset"/> of a shared array whose first <paramref name="Offset"/> bytes are free room that
/// nobody reads or writes: one borrower may write there (a message's envelope in front of the bytes) and keep the whole
/// past the call by taking a reference of its own (<see cref="SharedArray.Retain"/>). The bytes themselves never change
/// while any reference is held.
/// </summary>
public readonly record struct LendableBytes(SharedArray Owner, int Offset, int Length)
{
    public ReadOnlySpan<byte> Span => Owner.Array.AsSpan(Offset, Length);
}
