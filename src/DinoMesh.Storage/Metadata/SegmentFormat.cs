using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;

namespace DinoMesh.Storage.Metadata;

/// <summary>
/// The byte layout of the entry segments under <c>&lt;meta&gt;/log/</c>, all little endian.
/// <para>A segment is named after its first version (<c>00000000000000000001.seg</c>, 20 digits so names sort like
/// numbers) and starts with a 16-byte header: 8 bytes of magic, then that first version again, so a file renamed or
/// copied to the wrong name is caught.</para>
/// <para>Then records, back to back: <c>[u32 payloadLength][u32 crc][i64 version][i64 term][payload]</c>. The CRC-32C
/// covers the length, version, term and payload (everything but itself); it is what tells a record torn by a crash,
/// or zeros left by a power cut, from a real one. Versions inside a segment are consecutive.</para>
/// </summary>
internal static class SegmentFormat
{
    public const int HeaderSize = 16;
    public const int RecordHeaderSize = 24;
    public const string Extension = ".seg";

    /// <summary>
    /// The payload format this build writes and reads: 2 = MessagePack mutations. (1 was the protobuf encoding of the
    /// first single-node builds; a segment in it is refused with a message saying what to do.)
    /// </summary>
    public const byte Format = 2;

    /// <summary>"DMLOG", two zeros, then the format number.</summary>
    private static ReadOnlySpan<byte> Magic => "DMLOG\0\0\u0002"u8;

    /// <summary>The format number of a segment header that has our magic, or null for anything else.</summary>
    public static byte? FormatOf(ReadOnlySpan<byte> header) =>
        header.Length >= 8 && header[..7].SequenceEqual(Magic[..7]) ? header[7] : null;

    public static string FileName(long firstVersion) => firstVersion.ToString("D20", CultureInfo.InvariantCulture) + Extension;

    /// <summary>The first version a segment's file name claims, or null when the name is not a segment's.</summary>
    public static long? ParseFileName(string fileName)
    {
        if (fileName.Length != 20 + Extension.Length || !fileName.EndsWith(Extension, StringComparison.Ordinal)) return null;
        var digits = fileName.AsSpan(0, 20);
        foreach (char c in digits) if (c is < '0' or > '9') return null;
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long version) && version > 0 ? version : null;
    }

    public static void WriteHeader(Span<byte> destination, long firstVersion)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], firstVersion);
    }

    /// <summary>The first version a header states, or null when the magic is wrong.</summary>
    public static long? ReadHeader(ReadOnlySpan<byte> header) =>
        header[..8].SequenceEqual(Magic) ? BinaryPrimitives.ReadInt64LittleEndian(header[8..]) : null;

    public static int RecordSize(int payloadLength) => RecordHeaderSize + payloadLength;

    /// <summary>Writes one record into <paramref name="destination"/> (exactly <see cref="RecordSize"/> bytes).</summary>
    public static void WriteRecord(Span<byte> destination, long version, long term, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], version);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], term);
        payload.CopyTo(destination[RecordHeaderSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Checksum(destination[..RecordSize(payload.Length)]));
    }

    public static int PayloadLength(ReadOnlySpan<byte> recordHeader) => (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(recordHeader), int.MaxValue);

    public static long Version(ReadOnlySpan<byte> recordHeader) => BinaryPrimitives.ReadInt64LittleEndian(recordHeader[8..]);

    public static long Term(ReadOnlySpan<byte> recordHeader) => BinaryPrimitives.ReadInt64LittleEndian(recordHeader[16..]);

    /// <summary>True when the stored CRC matches the rest of the (complete) record.</summary>
    public static bool ChecksumMatches(ReadOnlySpan<byte> record) =>
        BinaryPrimitives.ReadUInt32LittleEndian(record[4..]) == Checksum(record);

    /// <summary>CRC-32C of a record without its own CRC field (bytes 4..8).</summary>
    private static uint Checksum(ReadOnlySpan<byte> record) => ~Crc32C(Crc32C(uint.MaxValue, record[..4]), record[8..]);

    /// <summary>CRC-32C of <paramref name="data"/> (also what guards the synced-version file's slots).</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data) => ~Crc32C(uint.MaxValue, data);

    /// <summary>
    /// CRC-32C through the CPU's crc32 instruction where there is one, 8 bytes at a time; carried on from
    /// <paramref name="crc"/> (start at <see cref="uint.MaxValue"/>, finish with <c>~</c>) for data written in pieces.
    /// </summary>
    internal static uint Crc32C(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return crc;
    }
}
