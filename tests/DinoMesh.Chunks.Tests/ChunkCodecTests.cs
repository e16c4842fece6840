using DinoMesh.Cluster.Chunks;
using DinoMesh.Core.Chunks;

namespace DinoMesh.Chunks.Tests;

/// <summary>
/// Pins the encoding of every chunk protocol message (docs/protocol.md tables them): a change here is a change of the
/// wire format and needs a new protocol version, not an edited expectation. Then hostile input.
/// </summary>
public class ChunkCodecTests
{
    private static readonly ChunkId Id = ChunkId.FromBytes([.. Enumerable.Range(0, 32).Select(i => (byte)i)]);
    private static readonly string IdHex = "C420" + Convert.ToHexString(Id.ToBytes());

    [Theory]
    [InlineData("get")]
    [InlineData("put")]
    [InlineData("has")]
    [InlineData("sync")]
    [InlineData("usage")]
    public void Requests_are_a_union_tag_and_an_array_of_their_fields(string kind)
    {
        var (request, expected) = kind switch
        {
            "get" => ((ChunkRequest)new GetChunk(Id), "92" + "00" + "91" + IdHex),
            "put" => (new PutChunk(Id, new byte[] { 1, 2, 3 }), "92" + "01" + "92" + IdHex + "C403010203"),
            "has" => (new HasChunks([Id, Id]), "92" + "02" + "91" + "92" + IdHex + IdHex),
            "sync" => (new SyncChunks(), "92" + "03" + "90"),
            _ => (new UsageQuery(), "92" + "04" + "90"),
        };
        Assert.Equal(expected, Convert.ToHexString(ChunkCodec.Encode(request)));
        Assert.Equal(request.GetType(), ChunkCodec.DecodeRequest(ChunkCodec.Encode(request)).GetType());
    }

    [Theory]
    [InlineData("found", "92" + "00" + "91" + "C40109")]
    [InlineData("missing", "92" + "01" + "90")]
    [InlineData("put", "92" + "02" + "91" + "01")]
    [InlineData("has", "92" + "03" + "91" + "92C3C2")]
    [InlineData("sync", "92" + "04" + "91" + "C3")]
    [InlineData("usage", "92" + "05" + "96" + "01" + "CD0400" + "02" + "CD0800" + "03" + "CD0C00")]
    public void Answers_are_a_union_tag_and_an_array_of_their_fields(string kind, string expected)
    {
        ChunkAnswer answer = kind switch
        {
            "found" => new ChunkFound(new byte[] { 9 }),
            "missing" => new ChunkMissing(),
            "put" => new PutAnswer(PutOutcome.AlreadyPresent),
            "has" => new HasAnswer([true, false]),
            "sync" => new SyncAnswer(true),
            _ => new UsageAnswer(1, 1024, 2, 2048, 3, 3072),
        };
        Assert.Equal(expected, Convert.ToHexString(ChunkCodec.Encode(answer)));
        Assert.Equal(answer.GetType(), ChunkCodec.DecodeAnswer(ChunkCodec.Encode(answer)).GetType());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(255)]
    [InlineData(256)]
    [InlineData(65_535)]
    [InlineData(65_536)]
    [InlineData(1 << 20)]
    public void The_chunk_carrying_messages_are_encoded_by_hand_exactly_as_the_serializer_encodes_them(int size)
    {
        // Put and found bypass the serializer (one copy of the chunk instead of two); every bin length form must still
        // come out byte for byte as the serializer writes it, and decode back.
        var chunk = Enumerable.Range(0, size).Select(i => (byte)(i * 7)).ToArray();
        var options = MessagePack.MessagePackSerializerOptions.Standard;
        ChunkRequest put = new PutChunk(Id, chunk);
        ChunkAnswer found = new ChunkFound(chunk);

        Assert.Equal(MessagePack.MessagePackSerializer.Serialize(put, options), ChunkCodec.Encode(put));
        Assert.Equal(MessagePack.MessagePackSerializer.Serialize(found, options), ChunkCodec.Encode(found));
        Assert.Equal(chunk, Assert.IsType<PutChunk>(ChunkCodec.DecodeRequest(ChunkCodec.Encode(put))).Bytes.ToArray());
        Assert.Equal(Id, Assert.IsType<PutChunk>(ChunkCodec.DecodeRequest(ChunkCodec.Encode(put))).Id);
        Assert.Equal(chunk, Assert.IsType<ChunkFound>(ChunkCodec.DecodeAnswer(ChunkCodec.Encode(found))).Bytes.ToArray());

        // The pushes' pooled encoding (in an array that may be longer than the message) is the same bytes.
        var (pooled, length) = ChunkCodec.EncodePooled((PutChunk)put);
        Assert.Equal(ChunkCodec.Encode(put), pooled.AsSpan(0, length).ToArray());
        System.Buffers.ArrayPool<byte>.Shared.Return(pooled);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(300)]
    [InlineData(70_000)]
    [InlineData(1 << 20)]
    public void Messages_laid_out_in_place_are_the_encoding_itself_and_nothing_else_passes_for_one(int size)
    {
        // A push lays its put out behind its envelope and is sent as it lies; a get reads its chunk behind the found
        // envelope and the answer is that array. Both must be the serializer's bytes, with no copy made.
        var chunk = Enumerable.Range(0, size).Select(i => (byte)(i * 3)).ToArray();
        var options = MessagePack.MessagePackSerializerOptions.Standard;
        var array = new byte[ChunkCodec.PutEnvelope(size) + size + 17];
        var put = ChunkCodec.LayOutPut(Id, chunk, array);
        Assert.True(ChunkCodec.TryEncoded(put, out var message));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(message, out var segment) && ReferenceEquals(array, segment.Array));
        Assert.Equal(MessagePack.MessagePackSerializer.Serialize<ChunkRequest>(new PutChunk(Id, chunk), options), message.ToArray());

        var answer = new byte[ChunkCodec.FoundEnvelope(size) + size];
        var at = ChunkCodec.WriteFoundEnvelope(answer, size);
        chunk.CopyTo(answer, at);
        var found = new ChunkFound(answer.AsMemory(at, size));
        Assert.Same(answer, ChunkCodec.Encode(found));
        Assert.Equal(MessagePack.MessagePackSerializer.Serialize<ChunkAnswer>(new ChunkFound(chunk), options), answer);

        // Bytes with anything else in front (another id, no room, a stale envelope of another length) are copied.
        var other = ChunkId.FromBytes([.. Enumerable.Repeat((byte)9, 32)]);
        Assert.False(ChunkCodec.TryEncoded(new PutChunk(other, put.Bytes), out _));
        Assert.False(ChunkCodec.TryEncoded(new PutChunk(Id, chunk), out _));
        Assert.False(ChunkCodec.TryEncoded(new PutChunk(Id, put.Bytes[..^1]), out _));
        Assert.Equal(MessagePack.MessagePackSerializer.Serialize<ChunkAnswer>(new ChunkFound(chunk.AsMemory(1)), options),
            ChunkCodec.Encode(new ChunkFound(answer.AsMemory(at + 1, size - 1))));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(255)]
    [InlineData(256)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(1 << 20)]
    [InlineData(ChunkCodec.MaxChunkBytes)]
    public void The_chunk_offset_of_a_found_answer_is_known_from_the_answers_length_alone(int size)
    {
        // The fetcher lends the receive buffer of a get's answer so that this byte starts a page, before any byte came.
        var answer = ChunkCodec.Encode(new ChunkFound(new byte[size]));
        Assert.Equal(ChunkCodec.FoundEnvelope(size), ChunkCodec.FoundChunkOffset(answer.Length));
        Assert.Equal(answer.Length - size, ChunkCodec.FoundChunkOffset(answer.Length));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(261)] // bin8 would say 256 (bin16), bin16 would say 255 (bin8): no found answer is this long
    [InlineData(65543)] // the same between bin16 and bin32
    public void A_length_no_found_answer_has_has_no_chunk_offset(int length) => Assert.Equal(0, ChunkCodec.FoundChunkOffset(length));

    [Fact]
    public void A_full_size_chunk_round_trips_and_one_byte_more_is_refused()
    {
        var bytes = new byte[ChunkCodec.MaxChunkBytes];
        var decoded = Assert.IsType<PutChunk>(ChunkCodec.DecodeRequest(ChunkCodec.Encode(new PutChunk(Id, bytes))));
        Assert.Equal(bytes.Length, decoded.Bytes.Length);
        Assert.Throws<InvalidDataException>(() => ChunkCodec.DecodeRequest(ChunkCodec.Encode(new PutChunk(Id, new byte[ChunkCodec.MaxChunkBytes + 1]))));
    }

    [Fact]
    public void Input_over_the_bound_is_refused_before_it_is_decoded()
    {
        var e = Assert.Throws<InvalidDataException>(() => ChunkCodec.DecodeRequest(new byte[ChunkCodec.MaxMessageBytes + 1]));
        Assert.Contains("at most", e.Message);
    }

    [Theory]
    [InlineData("9263" + "90")]                  // unknown union tag 99
    [InlineData("92000091" + "C4020102")]        // a chunk id of 2 bytes
    [InlineData("9201" + "92" + "C0" + "C0")]   // a put with nil id and nil bytes
    [InlineData("DC")]                          // truncated array header
    [InlineData("92")]                          // an array missing its elements
    [InlineData("DD7FFFFFFF")]                  // an array declaring two billion elements
    [InlineData("9200" + "91" + "C6FFFFFFFF")]  // bin declaring 4 GiB
    [InlineData("9201" + "92" + "C420" + "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F" + "C0")] // a put with nil bytes
    [InlineData("9201" + "93" + "C420" + "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F" + "C40101" + "C0")] // a put of 3 fields
    [InlineData("9201" + "92" + "C420" + "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F" + "C40401")] // bin longer than the message
    [InlineData("9201" + "92" + "C420" + "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F" + "A3616263")] // bytes sent as a string
    public void Malformed_requests_are_refused(string hex)
    {
        Assert.Throws<InvalidDataException>(() => ChunkCodec.DecodeRequest(Convert.FromHexString(hex)));
    }

    [Theory]
    [InlineData("9200" + "91" + "C0")]           // found with nil bytes
    [InlineData("9200" + "90")]                  // found without its field
    [InlineData("9200" + "91" + "C40109" + "C3")] // found with a trailing byte
    [InlineData("9200" + "92" + "C40109" + "C3")] // found of 2 fields
    public void Malformed_found_answers_are_refused(string hex)
    {
        Assert.Throws<InvalidDataException>(() => ChunkCodec.DecodeAnswer(Convert.FromHexString(hex)));
    }

    [Fact]
    public void A_decoded_chunk_is_a_slice_of_the_message_it_came_in_not_a_copy()
    {
        var chunk = Enumerable.Range(0, 70_000).Select(i => (byte)i).ToArray();
        var put = ChunkCodec.Encode(new PutChunk(Id, chunk));
        var found = ChunkCodec.Encode(new ChunkFound(chunk));

        var putBytes = Assert.IsType<PutChunk>(ChunkCodec.DecodeRequest(put)).Bytes;
        var foundBytes = Assert.IsType<ChunkFound>(ChunkCodec.DecodeAnswer(found)).Bytes;

        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(putBytes, out var putSegment));
        Assert.Same(put, putSegment.Array);
        Assert.Equal(put.Length - chunk.Length, putSegment.Offset);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(foundBytes, out var foundSegment));
        Assert.Same(found, foundSegment.Array);
        Assert.Equal(chunk, foundBytes.ToArray());
    }

    [Fact]
    public void Trailing_bytes_are_refused()
    {
        var bytes = ChunkCodec.Encode(new GetChunk(Id)).Append((byte)0).ToArray();
        Assert.Throws<InvalidDataException>(() => ChunkCodec.DecodeRequest(bytes));
    }

    [Fact]
    public void Deep_nesting_is_refused()
    {
        var hex = string.Concat(Enumerable.Repeat("91", 200)) + "00";
        Assert.Throws<InvalidDataException>(() => ChunkCodec.DecodeRequest(Convert.FromHexString("9202" + hex)));
    }

    [Fact]
    public void A_has_query_over_its_id_bound_is_refused()
    {
        var ids = Enumerable.Repeat(Id, ChunkCodec.MaxHasIds + 1).ToArray();
        Assert.Throws<InvalidDataException>(() => ChunkCodec.DecodeRequest(ChunkCodec.Encode(new HasChunks(ids))));
    }

    [Fact]
    public void Random_bytes_never_throw_anything_but_InvalidDataException()
    {
        var random = new Random(1234);
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            if (random.Next(2) == 0 && bytes.Length > 1) bytes[0] = 0x92;
            try
            {
                ChunkCodec.DecodeRequest(bytes);
                ChunkCodec.DecodeAnswer(bytes);
            }
            catch (InvalidDataException)
            {
                // Refused, as it should be.
            }
        }
    }

    [Fact]
    public void Damaged_puts_and_found_answers_never_throw_anything_but_InvalidDataException()
    {
        // The two kinds decoded by hand, damaged: flipped bytes, cut short, grown; each either decodes or is refused.
        var random = new Random(4321);
        var originals = new[] { ChunkCodec.Encode(new PutChunk(Id, new byte[300])), ChunkCodec.Encode(new ChunkFound(new byte[70_000])) };
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = originals[i % 2].ToArray();
            switch (random.Next(3))
            {
                case 0:
                    for (var k = 0; k < 1 + random.Next(3); k++) bytes[random.Next(Math.Min(bytes.Length, 48))] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes = bytes[..random.Next(bytes.Length)];
                    break;
                default:
                    bytes = [.. bytes, .. new byte[1 + random.Next(8)]];
                    break;
            }
            try
            {
                ChunkCodec.DecodeRequest(bytes);
            }
            catch (InvalidDataException)
            {
            }
            try
            {
                ChunkCodec.DecodeAnswer(bytes);
            }
            catch (InvalidDataException)
            {
            }
        }
    }
}
