namespace DinoMesh.Fuse;

/// <summary>
/// A file system that can answer a READ with bytes it already holds, lent for the length of the reply's write, instead
/// of copying them into the reply buffer first. Found by type; a file system without it is asked
/// <see cref="IFuseFileSystem.ReadAsync"/> only.
/// </summary>
public interface IFuseReadLender
{
    /// <summary>
    /// As <see cref="IFuseFileSystem.ReadAsync"/>: either fills <paramref name="buffer"/> (<see cref="LentRead.Filled"/>)
    /// or lends bytes of its own (<see cref="LentRead.Lending"/>), which must not change until the lease is disposed.
    /// The session disposes the lease exactly once, after the reply was written (or failed).
    /// </summary>
    ValueTask<FuseResult<LentRead>> ReadOrLendAsync(FuseContext ctx, ulong ino, ulong fileHandle, long offset, Memory<byte> buffer);
}

/// <summary>How a READ was answered: a byte count in the caller's buffer, or bytes lent with a lease.</summary>
public readonly struct LentRead
{
    private LentRead(int count, ReadOnlyMemory<byte> lent, IDisposable? lease)
    {
        Count = count;
        Lent = lent;
        Lease = lease;
    }

    /// <summary>Bytes in the caller's buffer (short only at end of file), or the length of the lent bytes.</summary>
    public int Count { get; }

    public ReadOnlyMemory<byte> Lent { get; }

    /// <summary>Disposed once the lent bytes are no longer needed; null for a filled buffer.</summary>
    public IDisposable? Lease { get; }

    public bool IsLent => Lease is not null;

    public static LentRead Filled(int count) => new(count, default, null);

    public static LentRead Lending(ReadOnlyMemory<byte> bytes, IDisposable lease) => new(bytes.Length, bytes, lease);
}
