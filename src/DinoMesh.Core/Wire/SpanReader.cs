using System.Buffers.Binary;
using MessagePack;

namespace DinoMesh.Core.Wire;

/// <summary>
/// Reads MessagePack straight from one contiguous buffer, for the messages decoded on every commit and every probe.
/// <see cref="MessagePackReader"/> works over sequences and pays for it on each value; this reads the same formats
/// with the same rules (which encodings a number may use, overflow is an error, the old spec's raw types are
/// accepted where bin is expected, a length is checked against what is left before anything is allocated) and fails the same way: an
/// <see cref="EndOfStreamException"/>, <see cref="OverflowException"/> or <see cref="MessagePackSerializationException"/>.
/// Anything it does not read itself (a field to skip, a rarely sent message) goes to a <see cref="MessagePackReader"/>
/// over the rest of the buffer, at the same depth.
/// </summary>
public ref struct SpanReader
{
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly MessagePackSerializerOptions _options;
    private int _at;
    private int _depth;

    public SpanReader(ReadOnlyMemory<byte> memory, MessagePackSerializerOptions options, int depth = 0)
    {
        _memory = memory;
        _bytes = memory.Span;
        _options = options;
        _depth = depth;
    }

    public readonly int Consumed => _at;

    public readonly bool End => _at >= _bytes.Length;

    /// <summary>Enter an object or array: refused beyond the options' depth bound, as the library's formatters do.</summary>
    public void DepthStep()
    {
        if (_depth >= _options.Security.MaximumObjectGraphDepth)
        {
            throw new InsufficientExecutionStackException($"the object graph is deeper than {_options.Security.MaximumObjectGraphDepth}");
        }
        _depth++;
    }

    public void DepthLeave() => _depth--;

    public bool TryReadNil()
    {
        if (Peek() != MessagePackCode.Nil) return false;
        _at++;
        return true;
    }

    public int ReadArrayHeader()
    {
        var code = Next();
        long count = code switch
        {
            >= MessagePackCode.MinFixArray and <= MessagePackCode.MaxFixArray => code & 0x0F,
            MessagePackCode.Array16 => BinaryPrimitives.ReadUInt16BigEndian(Take(2)),
            MessagePackCode.Array32 => BinaryPrimitives.ReadUInt32BigEndian(Take(4)),
            _ => throw Unexpected(code, "an array"),
        };
        // Every element takes at least a byte: a count beyond what is left is a lie, refused before any allocation.
        if (count > _bytes.Length - _at) throw new EndOfStreamException();
        return (int)count;
    }

    public ulong ReadUInt64()
    {
        var code = Next();
        if (code <= MessagePackCode.MaxFixInt) return code;
        return code switch
        {
            MessagePackCode.UInt8 => Take(1)[0],
            MessagePackCode.UInt16 => BinaryPrimitives.ReadUInt16BigEndian(Take(2)),
            MessagePackCode.UInt32 => BinaryPrimitives.ReadUInt32BigEndian(Take(4)),
            MessagePackCode.UInt64 => BinaryPrimitives.ReadUInt64BigEndian(Take(8)),
            _ => checked((ulong)SignedAfter(code)),
        };
    }

    public long ReadInt64()
    {
        var code = Next();
        if (code <= MessagePackCode.MaxFixInt) return code;
        return code switch
        {
            MessagePackCode.UInt8 => Take(1)[0],
            MessagePackCode.UInt16 => BinaryPrimitives.ReadUInt16BigEndian(Take(2)),
            MessagePackCode.UInt32 => BinaryPrimitives.ReadUInt32BigEndian(Take(4)),
            MessagePackCode.UInt64 => checked((long)BinaryPrimitives.ReadUInt64BigEndian(Take(8))),
            _ => SignedAfter(code),
        };
    }

    public uint ReadUInt32() => checked((uint)ReadUInt64());

    public int ReadInt32() => checked((int)ReadInt64());

    public byte ReadByte() => checked((byte)ReadUInt64());

    public bool ReadBoolean() => Next() switch
    {
        MessagePackCode.True => true,
        MessagePackCode.False => false,
        var code => throw Unexpected(code, "a boolean"),
    };

    /// <summary>The bytes of a bin (or of an old-spec raw, as the library allows); empty with <paramref name="nil"/> for nil. A slice of the buffer, not a copy.</summary>
    public ReadOnlySpan<byte> ReadBytes(out bool nil)
    {
        nil = TryReadNil();
        if (nil) return default;
        var code = Next();
        long length = code switch
        {
            MessagePackCode.Bin8 => Take(1)[0],
            MessagePackCode.Bin16 or MessagePackCode.Str16 => BinaryPrimitives.ReadUInt16BigEndian(Take(2)),
            MessagePackCode.Bin32 or MessagePackCode.Str32 => BinaryPrimitives.ReadUInt32BigEndian(Take(4)),
            // The old spec's raw types (today's fixstr, str16, str32; it had no str8) still read as bytes.
            >= MessagePackCode.MinFixStr and <= MessagePackCode.MaxFixStr => code & 0x1F,
            _ => throw Unexpected(code, "bin"),
        };
        if (length > _bytes.Length - _at) throw new EndOfStreamException();
        return Take((int)length);
    }

    /// <summary>The UTF-8 bytes of a str; empty with <paramref name="nil"/> for nil.</summary>
    public ReadOnlySpan<byte> ReadStringBytes(out bool nil)
    {
        nil = TryReadNil();
        if (nil) return default;
        var code = Next();
        long length = code switch
        {
            >= MessagePackCode.MinFixStr and <= MessagePackCode.MaxFixStr => code & 0x1F,
            MessagePackCode.Str8 => Take(1)[0],
            MessagePackCode.Str16 => BinaryPrimitives.ReadUInt16BigEndian(Take(2)),
            MessagePackCode.Str32 => BinaryPrimitives.ReadUInt32BigEndian(Take(4)),
            _ => throw Unexpected(code, "str"),
        };
        if (length > _bytes.Length - _at) throw new EndOfStreamException();
        return Take((int)length);
    }

    /// <summary>A copy of a bin, or null for nil.</summary>
    public byte[]? ReadByteArray()
    {
        var bytes = ReadBytes(out var nil);
        return nil ? null : bytes.ToArray();
    }

    /// <summary>Skips one value of any kind, exactly as the library's readers skip an unknown field.</summary>
    public void Skip()
    {
        var reader = Library();
        reader.Skip();
        _at += (int)reader.Consumed;
    }

    /// <summary>Reads one value through the library's formatter for <typeparamref name="T"/>.</summary>
    public T Read<T>()
    {
        var reader = Library();
        var value = _options.Resolver.GetFormatterWithVerify<T>().Deserialize(ref reader, _options);
        _at += (int)reader.Consumed;
        return value;
    }

    private readonly MessagePackReader Library() => new(_memory[_at..]) { Depth = _depth };

    private readonly byte Peek() => _at < _bytes.Length ? _bytes[_at] : throw new EndOfStreamException();

    private byte Next()
    {
        var code = Peek();
        _at++;
        return code;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _bytes.Length - _at) throw new EndOfStreamException();
        var slice = _bytes.Slice(_at, count);
        _at += count;
        return slice;
    }

    /// <summary>The value of a signed integer whose code was just read (negative fixint, int8..int64).</summary>
    private long SignedAfter(byte code) => code switch
    {
        >= MessagePackCode.MinNegativeFixInt => (sbyte)code,
        MessagePackCode.Int8 => (sbyte)Take(1)[0],
        MessagePackCode.Int16 => BinaryPrimitives.ReadInt16BigEndian(Take(2)),
        MessagePackCode.Int32 => BinaryPrimitives.ReadInt32BigEndian(Take(4)),
        MessagePackCode.Int64 => BinaryPrimitives.ReadInt64BigEndian(Take(8)),
        _ => throw Unexpected(code, "an integer"),
    };

    private static MessagePackSerializationException Unexpected(byte code, string expected) =>
        new($"unexpected msgpack code {code} ({MessagePackCode.ToFormatName(code)}) where {expected} belongs");
}
