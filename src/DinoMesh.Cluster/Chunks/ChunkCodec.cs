using MessagePack;

namespace DinoMesh.Cluster.Chunks;

/// <summary>
/// Chunk protocol messages to and from MessagePack. Everything decoded comes from a peer: the size is checked against
/// the bound before a byte is looked at, the depth is bounded, maps use the untrusted-data hashing, an unknown union
/// tag or trailing bytes are refused, and every failure is an <see cref="InvalidDataException"/> with one line.
/// </summary>
public static class ChunkCodec
{
    /// <summary>Largest chunk the protocol carries (the volume cuts 1 MiB chunks; the format allows up to 4 MiB).</summary>
    public const int MaxChunkBytes = 4 << 20;

    /// <summary>Room for a message's own fields around the chunk bytes.</summary>
    public const int Overhead = 1024;

    /// <summary>Bound on any request and any answer: one chunk plus its envelope.</summary>
    public const int MaxMessageBytes = MaxChunkBytes + Overhead;

    /// <summary>Most ids one <see cref="HasChunks"/> may ask about (4096 × 34 bytes ≈ 136 KiB).</summary>
    public const int MaxHasIds = 4096;

    private static readonly MessagePackSerializerOptions Options = MessagePackSerializerOptions.Standard
        .WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(8));

    public static byte[] Encode(ChunkRequest request) => MessagePackSerializer.Serialize(request, Options);

    public static byte[] Encode(ChunkAnswer answer) => MessagePackSerializer.Serialize(answer, Options);

    public static ChunkRequest DecodeRequest(ReadOnlyMemory<byte> bytes)
    {
        var request = Decode<ChunkRequest>(bytes, "chunk request");
        return request switch
        {
            PutChunk { Bytes: null } => throw new InvalidDataException("a chunk put without bytes"),
            PutChunk p when p.Bytes.Length > MaxChunkBytes => throw new InvalidDataException($"a chunk of {p.Bytes.Length} bytes (at most {MaxChunkBytes})"),
            HasChunks { Ids: null } => throw new InvalidDataException("a has-query without ids"),
            HasChunks h when h.Ids.Length > MaxHasIds => throw new InvalidDataException($"a has-query of {h.Ids.Length} ids (at most {MaxHasIds})"),
            _ => request,
        };
    }

    public static ChunkAnswer DecodeAnswer(ReadOnlyMemory<byte> bytes)
    {
        var answer = Decode<ChunkAnswer>(bytes, "chunk answer");
        return answer switch
        {
            ChunkFound { Bytes: null } or HasAnswer { Held: null } => throw new InvalidDataException("a chunk answer without its field"),
            _ => answer,
        };
    }

    private static T Decode<T>(ReadOnlyMemory<byte> bytes, string what) where T : class
    {
        if (bytes.Length > MaxMessageBytes) throw new InvalidDataException($"a {what} of {bytes.Length} bytes (at most {MaxMessageBytes})");
        try
        {
            // An unknown union tag decodes to null: refused like any other malformed message.
            return MessagePackSerializer.Deserialize<T>(bytes, Options, out var read) is { } message && read == bytes.Length
                ? message
                : throw new InvalidDataException($"not one whole {what}");
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentException)
        {
            var inner = e;
            while (inner.InnerException is { } next) inner = next;
            throw new InvalidDataException($"not a {what}: {inner.Message}", e);
        }
    }
}
