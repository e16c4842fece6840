using DinoMesh.Core.Buffers;

namespace DinoMesh.Transport;

/// <summary>
/// An answer in two parts sent back to back as one message: <see cref="Head"/> (an envelope of a few bytes, the
/// answer's own), then <see cref="Body"/>, a pooled buffer lent to the transport together with its one reference. The
/// transport releases the body exactly once, after the last byte of it was written (or the write failed), so a chunk
/// read into a pooled page-aligned buffer goes from there to the socket with no copy into an answer array.
/// </summary>
public readonly struct LentAnswer
{
    public LentAnswer(ReadOnlyMemory<byte> head, PooledBuffer? body = null)
    {
        Head = head;
        Body = body;
    }

    public ReadOnlyMemory<byte> Head { get; }

    public PooledBuffer? Body { get; }

    public int Length => Head.Length + (Body?.Length ?? 0);

    /// <summary>The whole answer in one new array, the body released (for paths that send arrays: HTTP/2, lean).</summary>
    public byte[] ToArrayAndRelease()
    {
        if (Body is null) return Head.ToArray();
        try
        {
            var whole = GC.AllocateUninitializedArray<byte>(Length);
            Head.Span.CopyTo(whole);
            Body.Memory.Span.CopyTo(whole.AsSpan(Head.Length));
            return whole;
        }
        finally
        {
            Body.Release();
        }
    }
}

/// <summary>
/// A <see cref="UnaryHandler"/> whose answer may lend a pooled buffer (<see cref="LentAnswer"/>). Same rules for the
/// request and for failures; the bulk path sends the lent buffer as it lies, other paths copy it into an array first.
/// </summary>
public delegate ValueTask<LentAnswer> LendingUnaryHandler(PeerContext peer, ReadOnlyMemory<byte> request, CancellationToken ct);
