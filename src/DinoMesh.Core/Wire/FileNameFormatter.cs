using DinoMesh.Core.Metadata;
using MessagePack;
using MessagePack.Formatters;

namespace DinoMesh.Core.Wire;

/// <summary>A name on the wire: its raw bytes as bin. Length and content rules are checked by apply, not here.</summary>
public sealed class FileNameFormatter : IMessagePackFormatter<FileName>
{
    /// <summary>Far above any valid name (255 bytes): a bound on what a hostile peer can make us allocate per name.</summary>
    internal const int MaxBytes = 4096;

    public void Serialize(ref MessagePackWriter writer, FileName value, MessagePackSerializerOptions options)
    {
        var length = value.ByteLength;
        writer.WriteBinHeader(length);
        var span = writer.GetSpan(length);
        value.CopyTo(span[..length]);
        writer.Advance(length);
    }

    public FileName Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        var bytes = reader.ReadBytes() ?? throw new MessagePackSerializationException("a name is bin");
        if (bytes.Length > MaxBytes) throw new MessagePackSerializationException($"a name of {bytes.Length} bytes");
        return bytes.IsSingleSegment ? FileName.FromBytes(bytes.FirstSpan) : FileName.FromBytes(System.Buffers.BuffersExtensions.ToArray(bytes));
    }
}
