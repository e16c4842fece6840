using DinoMesh.Core.Chunks;
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

    private static readonly MessagePackSerializerOptions Options = Core.Wire.WireOptions.Untrusted(8, WireFormatterResolver.Instance);

    // The two messages that carry a whole chunk are written by hand, straight into an array of their exact size: the
    // serializer would write the chunk into its pooled buffers and copy it out again, two passes over a MiB where one
    // does. The bytes are the same (the golden tests pin both paths to one encoding).
    // Decoding them is by hand too, and copies nothing: the chunk stays a slice of the message it came in (an array
    // of its own per call, so the slice outlives the call safely).
    public static byte[] Encode(ChunkRequest request) => request is PutChunk put
        ? WithChunk(PutPrefix, put.Id, put.Bytes.Span)
        : MessagePackSerializer.Serialize(request, Options);

    public static byte[] Encode(ChunkAnswer answer) => answer is ChunkFound found
        ? TryEncoded(found, out var inPlace) ? inPlace : WithChunk(FoundPrefix, null, found.Bytes.Span)
        : MessagePackSerializer.Serialize(answer, Options);

    private const byte ArrayOf1 = 0x91, ArrayOf2 = 0x92, Bin8 = 0xc4, Bin16 = 0xc5, Bin32 = 0xc6;
    private const byte PutTag = 1, FoundTag = 0; // the [Union] tags of PutChunk and ChunkFound

    /// <summary>
    /// The encoding of a put written into a pooled array (returned to <see cref="System.Buffers.ArrayPool{T}.Shared"/>
    /// by the caller once the call that sends it ended): the same bytes as <see cref="Encode(ChunkRequest)"/>.
    /// </summary>
    public static (byte[] Pooled, int Length) EncodePooled(PutChunk put)
    {
        var length = LengthWithChunk(PutPrefix.Length, ChunkId.Size, put.Bytes.Length);
        var pooled = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        WriteWithChunk(pooled.AsSpan(0, length), PutPrefix, put.Id, put.Bytes.Span);
        return (pooled, length);
    }

    /// <summary>Bytes of a put's encoding that come before its chunk bytes (the chunk is the rest).</summary>
    public static int PutEnvelope(int chunkLength) => LengthWithChunk(PutPrefix.Length, ChunkId.Size, chunkLength) - chunkLength;

    /// <summary>Bytes of a found answer's encoding that come before its chunk bytes.</summary>
    public static int FoundEnvelope(int chunkLength) => LengthWithChunk(FoundPrefix.Length, 0, chunkLength) - chunkLength;

    /// <summary>
    /// Where the chunk bytes would start in a found answer of <paramref name="answerLength"/> bytes (its envelope's
    /// length), or 0 when no found answer is that long. Known from the length alone, before a byte of the answer has
    /// arrived: the fetcher receives an answer so that its chunk starts on a page (<see cref="Core.Buffers.BufferPool.Rent"/>).
    /// </summary>
    public static int FoundChunkOffset(int answerLength)
    {
        // The bin header's form follows from the chunk's length, so at most one of the three forms adds up.
        for (int binHeader = 2; binHeader <= 5; binHeader++)
        {
            int envelope = FoundPrefix.Length + binHeader;
            if (binHeader != 4 && answerLength >= envelope && BinHeaderOf(answerLength - envelope) == binHeader) return envelope;
        }
        return 0;
    }

    /// <summary>
    /// Lays out the encoding of a put of <paramref name="chunk"/> at the start of <paramref name="into"/> (at least
    /// <see cref="PutEnvelope"/> + the chunk's length long) and returns the put, whose bytes are the slice of
    /// <paramref name="into"/> behind its envelope: sending it then copies nothing (<see cref="TryEncoded(PutChunk, out ReadOnlyMemory{byte})"/>).
    /// </summary>
    public static PutChunk LayOutPut(ChunkId id, ReadOnlySpan<byte> chunk, byte[] into)
    {
        var envelope = PutEnvelope(chunk.Length);
        WriteWithChunk(into.AsSpan(0, envelope + chunk.Length), PutPrefix, id, chunk);
        return new PutChunk(id, into.AsMemory(envelope, chunk.Length));
    }

    /// <summary>
    /// The same as <see cref="LayOutPut"/> for a chunk that already lies at <paramref name="offset"/> of
    /// <paramref name="array"/>: only the envelope is written, into the <see cref="PutEnvelope"/> bytes in front of it
    /// (which must be free for the caller to write).
    /// </summary>
    public static PutChunk LayOutPutEnvelope(ChunkId id, byte[] array, int offset, int chunkLength)
    {
        var envelope = PutEnvelope(chunkLength);
        if (offset < envelope) throw new ArgumentOutOfRangeException(nameof(offset), $"{offset} bytes in front of the chunk, the envelope needs {envelope}");
        WriteEnvelope(array.AsSpan(offset - envelope, envelope), PutPrefix, id, chunkLength);
        return new PutChunk(id, array.AsMemory(offset, chunkLength));
    }

    /// <summary>
    /// Writes a found answer's envelope for a chunk of <paramref name="chunkLength"/> bytes at the start of
    /// <paramref name="into"/> and returns where the chunk bytes go (the caller reads the chunk there).
    /// </summary>
    public static int WriteFoundEnvelope(Span<byte> into, int chunkLength)
    {
        var envelope = FoundEnvelope(chunkLength);
        WriteEnvelope(into[..envelope], FoundPrefix, null, chunkLength);
        return envelope;
    }

    /// <summary>
    /// The put's encoding without a copy, when its bytes already sit in an array right behind exactly the envelope
    /// this put encodes to (<see cref="LayOutPut"/>): then that stretch of the array is the message, byte for byte.
    /// </summary>
    public static bool TryEncoded(PutChunk put, out ReadOnlyMemory<byte> message)
    {
        message = default;
        Span<byte> expected = stackalloc byte[MaxEnvelope];
        var envelope = PutEnvelope(put.Bytes.Length);
        WriteEnvelope(expected[..envelope], PutPrefix, put.Id, put.Bytes.Length);
        if (!InPlace(put.Bytes, expected[..envelope], out var array, out var start)) return false;
        message = array.AsMemory(start, envelope + put.Bytes.Length);
        return true;
    }

    /// <summary>
    /// The found answer's encoding as the array its bytes sit in, when that array holds exactly this answer's envelope
    /// and then the chunk, and nothing else (<see cref="WriteFoundEnvelope"/>); no copy is made.
    /// </summary>
    private static bool TryEncoded(ChunkFound found, out byte[] message)
    {
        message = [];
        Span<byte> expected = stackalloc byte[MaxEnvelope];
        var envelope = FoundEnvelope(found.Bytes.Length);
        WriteEnvelope(expected[..envelope], FoundPrefix, null, found.Bytes.Length);
        if (!InPlace(found.Bytes, expected[..envelope], out var array, out var start) || start != 0 || array.Length != envelope + found.Bytes.Length) return false;
        message = array;
        return true;
    }

    /// <summary>Whether <paramref name="bytes"/> is a slice of an array with <paramref name="envelope"/> right in front of it.</summary>
    private static bool InPlace(ReadOnlyMemory<byte> bytes, ReadOnlySpan<byte> envelope, out byte[] array, out int start)
    {
        array = [];
        start = 0;
        if (!System.Runtime.InteropServices.MemoryMarshal.TryGetArray(bytes, out var segment) || segment.Array is null || segment.Offset < envelope.Length) return false;
        array = segment.Array;
        start = segment.Offset - envelope.Length;
        return array.AsSpan(start, envelope.Length).SequenceEqual(envelope);
    }

    private static ReadOnlySpan<byte> PutPrefix => [ArrayOf2, PutTag, ArrayOf2, Bin8, ChunkId.Size];

    private static ReadOnlySpan<byte> FoundPrefix => [ArrayOf2, FoundTag, ArrayOf1];

    /// <summary>The longest envelope: the put's prefix, its id and a bin32 header.</summary>
    private const int MaxEnvelope = 5 + ChunkId.Size + 5;

    /// <summary><paramref name="prefix"/>, then the id's 32 bytes if any, then <paramref name="chunk"/> as bin.</summary>
    private static byte[] WithChunk(ReadOnlySpan<byte> prefix, ChunkId? id, ReadOnlySpan<byte> chunk)
    {
        var bytes = new byte[LengthWithChunk(prefix.Length, id is null ? 0 : ChunkId.Size, chunk.Length)];
        WriteWithChunk(bytes, prefix, id, chunk);
        return bytes;
    }

    private static int BinHeaderOf(int length) => length <= byte.MaxValue ? 2 : length <= ushort.MaxValue ? 3 : 5;

    private static int LengthWithChunk(int prefix, int id, int chunk) => prefix + id + BinHeaderOf(chunk) + chunk;

    private static void WriteWithChunk(Span<byte> bytes, ReadOnlySpan<byte> prefix, ChunkId? id, ReadOnlySpan<byte> chunk)
    {
        var at = WriteEnvelope(bytes, prefix, id, chunk.Length);
        chunk.CopyTo(bytes[at..]);
    }

    /// <summary>Everything before the chunk bytes: the prefix, the id if any, the bin header. Returns its length.</summary>
    private static int WriteEnvelope(Span<byte> bytes, ReadOnlySpan<byte> prefix, ChunkId? id, int chunkLength)
    {
        var binHeader = BinHeaderOf(chunkLength);
        var idLength = id is null ? 0 : ChunkId.Size;
        prefix.CopyTo(bytes);
        var at = prefix.Length;
        id?.WriteTo(bytes.Slice(at, idLength));
        at += idLength;
        switch (binHeader)
        {
            case 2:
                bytes[at] = Bin8;
                bytes[at + 1] = (byte)chunkLength;
                break;
            case 3:
                bytes[at] = Bin16;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(bytes[(at + 1)..], (ushort)chunkLength);
                break;
            default:
                bytes[at] = Bin32;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes[(at + 1)..], (uint)chunkLength);
                break;
        }
        return at + binHeader;
    }

    public static ChunkRequest DecodeRequest(ReadOnlyMemory<byte> bytes)
    {
        var request = TagOf(bytes) == PutTag ? DecodePut(bytes) : Decode<ChunkRequest>(bytes, "chunk request");
        return request switch
        {
            PutChunk p when p.Bytes.Length > MaxChunkBytes => throw new InvalidDataException($"a chunk of {p.Bytes.Length} bytes (at most {MaxChunkBytes})"),
            HasChunks { Ids: null } => throw new InvalidDataException("a has-query without ids"),
            HasChunks h when h.Ids.Length > MaxHasIds => throw new InvalidDataException($"a has-query of {h.Ids.Length} ids (at most {MaxHasIds})"),
            _ => request,
        };
    }

    public static ChunkAnswer DecodeAnswer(ReadOnlyMemory<byte> bytes)
    {
        var answer = TagOf(bytes) == FoundTag ? DecodeFound(bytes) : Decode<ChunkAnswer>(bytes, "chunk answer");
        return answer switch
        {
            HasAnswer { Held: null } => throw new InvalidDataException("a chunk answer without its field"),
            _ => answer,
        };
    }

    /// <summary>The union tag, when the message starts as a union does; else null (the general decoder says why).</summary>
    private static int? TagOf(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.Length > MaxMessageBytes) return null;
        try
        {
            var reader = new MessagePackReader(bytes);
            return reader.NextMessagePackType == MessagePackType.Array && reader.ReadArrayHeader() == 2 && reader.NextMessagePackType == MessagePackType.Integer
                ? reader.ReadInt32()
                : null;
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            return null;
        }
    }

    private static PutChunk DecodePut(ReadOnlyMemory<byte> bytes) => Strict(bytes, "chunk request", static (ref MessagePackReader reader, ReadOnlyMemory<byte> whole) =>
    {
        if (reader.ReadArrayHeader() != 2) throw new InvalidDataException("a chunk put is an array of 2 fields");
        var id = new Core.Wire.ChunkIdFormatter().Deserialize(ref reader, Options);
        return new PutChunk(id, ChunkOf(ref reader, whole, "a chunk put without bytes"));
    });

    private static ChunkFound DecodeFound(ReadOnlyMemory<byte> bytes) => Strict(bytes, "chunk answer", static (ref MessagePackReader reader, ReadOnlyMemory<byte> whole) =>
    {
        if (reader.ReadArrayHeader() != 1) throw new InvalidDataException("a found answer is an array of 1 field");
        return new ChunkFound(ChunkOf(ref reader, whole, "a chunk answer without its field"));
    });

    private delegate T FieldsReader<out T>(ref MessagePackReader reader, ReadOnlyMemory<byte> whole);

    /// <summary>The union's array header and tag (already known), then its fields; the message must end with them.</summary>
    private static T Strict<T>(ReadOnlyMemory<byte> bytes, string what, FieldsReader<T> fields)
    {
        try
        {
            var reader = new MessagePackReader(bytes);
            reader.ReadArrayHeader();
            reader.ReadInt32();
            var message = fields(ref reader, bytes);
            return reader.End ? message : throw new InvalidDataException($"not one whole {what}");
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentException)
        {
            var inner = e;
            while (inner.InnerException is { } next) inner = next;
            throw new InvalidDataException($"not a {what}: {inner.Message}", e);
        }
    }

    /// <summary>The bin field at the reader, as a slice of <paramref name="whole"/> (no copy).</summary>
    private static ReadOnlyMemory<byte> ChunkOf(ref MessagePackReader reader, ReadOnlyMemory<byte> whole, string missing)
    {
        if (reader.NextMessagePackType != MessagePackType.Binary) throw new InvalidDataException(missing);
        var bin = reader.ReadBytes()!.Value;
        var end = (int)reader.Consumed;
        return whole.Slice(end - (int)bin.Length, (int)bin.Length);
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
