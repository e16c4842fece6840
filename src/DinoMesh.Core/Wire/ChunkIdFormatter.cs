using DinoMesh.Core.Chunks;
using MessagePack;
using MessagePack.Formatters;

namespace DinoMesh.Core.Wire;

/// <summary>A chunk id on the wire: its 32 SHA-256 bytes as bin.</summary>
public sealed class ChunkIdFormatter : IMessagePackFormatter<ChunkId>
{
    public void Serialize(ref MessagePackWriter writer, ChunkId value, MessagePackSerializerOptions options)
    {
        writer.WriteBinHeader(ChunkId.Size);
        value.WriteTo(writer.GetSpan(ChunkId.Size));
        writer.Advance(ChunkId.Size);
    }

    public ChunkId Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        var bytes = reader.ReadBytes() ?? throw new MessagePackSerializationException("a chunk id is bin");
        if (bytes.Length != ChunkId.Size) throw new MessagePackSerializationException($"a chunk id is {ChunkId.Size} bytes, got {bytes.Length}");
        Span<byte> copy = stackalloc byte[ChunkId.Size];
        System.Buffers.BuffersExtensions.CopyTo(bytes, copy);
        return ChunkId.FromBytes(copy);
    }
}
