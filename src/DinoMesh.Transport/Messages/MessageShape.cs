using System.Buffers;
using MessagePack;

namespace DinoMesh.Transport.Messages;

/// <summary>
/// A walk over MessagePack bytes that checks their shape before anything is decoded: exactly one value, no trailing
/// bytes, nesting no deeper than a bound, and no length that claims more than the bytes that follow (every element
/// costs at least one byte, so a declared count above the remaining bytes is a lie told to make the decoder allocate).
/// Iterative, so a hostile nesting depth cannot exhaust the stack.
/// </summary>
internal static class MessageShape
{
    public static bool TryCheck(ReadOnlyMemory<byte> bytes, int maxDepth, out string error)
    {
        var reader = new MessagePackReader(bytes);
        // pending[d] = values still to read at nesting level d; level 0 holds the single top-level value.
        var pending = new long[maxDepth + 1];
        var depth = 0;
        pending[0] = 1;
        try
        {
            while (true)
            {
                while (pending[depth] == 0)
                {
                    if (depth == 0)
                    {
                        error = reader.End ? "" : $"{reader.Sequence.Length - reader.Consumed} bytes follow the message";
                        return reader.End;
                    }
                    depth--;
                }
                if (reader.End)
                {
                    error = "the message ends inside a value";
                    return false;
                }
                pending[depth]--;
                switch (reader.NextMessagePackType)
                {
                    case MessagePackType.Array:
                    case MessagePackType.Map:
                        var isMap = reader.NextMessagePackType == MessagePackType.Map;
                        long count = isMap ? 2L * ReadMapHeaderUnchecked(ref reader) : ReadArrayHeaderUnchecked(ref reader);
                        var remaining = reader.Sequence.Length - reader.Consumed;
                        if (count > remaining)
                        {
                            error = $"{(isMap ? "a map" : "an array")} declares {(isMap ? count / 2 : count)} entries but only {remaining} bytes follow";
                            return false;
                        }
                        if (count == 0) break;
                        if (depth == maxDepth)
                        {
                            error = $"nested deeper than {maxDepth} levels";
                            return false;
                        }
                        pending[++depth] = count;
                        break;
                    case MessagePackType.Unknown:
                        error = $"byte 0x{reader.NextCode:x2} at offset {reader.Consumed} is not a MessagePack type";
                        return false;
                    case MessagePackType.String or MessagePackType.Binary or MessagePackType.Extension:
                        var kind = reader.NextMessagePackType;
                        if (!TrySkip(ref reader))
                        {
                            error = (kind == MessagePackType.Extension ? "an extension" : kind == MessagePackType.String ? "a string" : "a binary") + " runs past the end of the message";
                            return false;
                        }
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }
        }
        catch (Exception e) when (e is EndOfStreamException or MessagePackSerializationException or ArgumentOutOfRangeException or OverflowException)
        {
            error = "malformed MessagePack: " + e.Message;
            return false;
        }
    }

    // Skip checks a declared length against the bytes left, and throws when it runs past them.
    private static bool TrySkip(ref MessagePackReader reader)
    {
        try
        {
            reader.Skip();
            return true;
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    // The counts are checked against the remaining bytes by the caller; these only read the header.
    private static long ReadArrayHeaderUnchecked(ref MessagePackReader reader)
    {
        var code = reader.NextCode;
        return code switch
        {
            >= MessagePackCode.MinFixArray and <= MessagePackCode.MaxFixArray => ReadCode(ref reader) & 0x0f,
            MessagePackCode.Array16 => ReadLength(ref reader, 2),
            _ => ReadLength(ref reader, 4),
        };
    }

    private static long ReadMapHeaderUnchecked(ref MessagePackReader reader)
    {
        var code = reader.NextCode;
        return code switch
        {
            >= MessagePackCode.MinFixMap and <= MessagePackCode.MaxFixMap => ReadCode(ref reader) & 0x0f,
            MessagePackCode.Map16 => ReadLength(ref reader, 2),
            _ => ReadLength(ref reader, 4),
        };
    }

    private static byte ReadCode(ref MessagePackReader reader)
    {
        var raw = reader.ReadRaw(1);
        return raw.FirstSpan[0];
    }

    private static long ReadLength(ref MessagePackReader reader, int size)
    {
        var raw = reader.ReadRaw(1 + size);
        Span<byte> header = stackalloc byte[5];
        raw.CopyTo(header);
        return size == 2
            ? System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(header[1..])
            : System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
    }
}
