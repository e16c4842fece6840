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
        writer.WriteBinHeader(32);
        if (Convert.FromHexString(value.Hex, writer.GetSpan(32)[..32], out _, out var written) != System.Buffers.OperationStatus.Done || written != 32)
        {
            throw new MessagePackSerializationException($"'{value.Hex}' is not a peer id");
        }
        writer.Advance(32);
    }

    public PeerId Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return default;
        var bytes = reader.ReadBytes() ?? throw new MessagePackSerializationException("a peer id is bin");
        if (bytes.Length != 32) throw new MessagePackSerializationException($"a peer id is 32 bytes, got {bytes.Length}");
        Span<byte> copy = stackalloc byte[32];
        System.Buffers.BuffersExtensions.CopyTo(bytes, copy);
        return new PeerId(Convert.ToHexStringLower(copy));
    }
}
