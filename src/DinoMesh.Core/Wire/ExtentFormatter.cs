using DinoMesh.Core.Chunks;
using DinoMesh.Core.Metadata;
using MessagePack;
using MessagePack.Formatters;

namespace DinoMesh.Core.Wire;

/// <summary>
/// An extent on the wire and in snapshots: [offset, length, chunk id (bin 32) or nil, chunk offset, inline bytes or nil].
/// Exactly one of chunk and inline is present. Ranges are checked by apply (a peer's numbers are not trusted here).
/// </summary>
public sealed class ExtentFormatter : IMessagePackFormatter<Extent>
{
    private static readonly ChunkIdFormatter Chunk = new();

    public void Serialize(ref MessagePackWriter writer, Extent value, MessagePackSerializerOptions options)
    {
        writer.WriteArrayHeader(5);
        writer.Write(value.Offset);
        writer.Write(value.Length);
        if (value.Inline is null) Chunk.Serialize(ref writer, value.Chunk, options);
        else writer.WriteNil();
        writer.Write(value.ChunkOffset);
        if (value.Inline is { } inline) writer.Write(inline);
        else writer.WriteNil();
    }

    public Extent Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.ReadArrayHeader() != 5) throw new MessagePackSerializationException("an extent has 5 fields");
        var offset = reader.ReadInt64();
        var length = reader.ReadInt64();
        ChunkId chunk = default;
        var hasChunk = !reader.TryReadNil();
        if (hasChunk) chunk = Chunk.Deserialize(ref reader, options);
        var chunkOffset = reader.ReadInt64();
        byte[]? inline = null;
        if (!reader.TryReadNil())
        {
            var bytes = reader.ReadBytes() ?? throw new MessagePackSerializationException("inline bytes are bin");
            if (bytes.Length > Extent.MaxInline) throw new MessagePackSerializationException($"{bytes.Length} inline bytes (at most {Extent.MaxInline})");
            inline = System.Buffers.BuffersExtensions.ToArray(bytes);
        }
        if (hasChunk == (inline is not null)) throw new MessagePackSerializationException("an extent names exactly one of a chunk and inline bytes");
        return new Extent(offset, length, chunk, chunkOffset, inline);
    }
}
