using DinoMesh.Core.Identity;
using MessagePack;
using MessagePack.Formatters;

namespace DinoMesh.Core.Wire;

/// <summary>A PeerId on the wire: its 32 hash bytes as bin (nil for none). Anything else is refused.</summary>
public sealed class PeerIdFormatter : IMessagePackFormatter<PeerId>
{
    public void Serialize(ref MessagePackWriter writer, PeerId value, MessagePackSerializerOptions options)
    {
        if (value.IsEmpty)
        {
            writer.WriteNil();
            return;
        }
        writer.WriteBinHeader(PeerId.Size);
        value.TryWriteBytes(writer.GetSpan(PeerId.Size));
        writer.Advance(PeerId.Size);
    }

    public PeerId Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return default;
        var bytes = reader.ReadBytes() ?? throw new MessagePackSerializationException("a peer id is bin");
        if (bytes.Length != PeerId.Size) throw new MessagePackSerializationException($"a peer id is {PeerId.Size} bytes, got {bytes.Length}");
        if (bytes.IsSingleSegment) return PeerId.FromBytes(bytes.FirstSpan);
        Span<byte> copy = stackalloc byte[PeerId.Size];
        System.Buffers.BuffersExtensions.CopyTo(bytes, copy);
        return PeerId.FromBytes(copy);
    }
}
