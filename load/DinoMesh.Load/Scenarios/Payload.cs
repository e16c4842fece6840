using System.Buffers.Binary;

namespace DinoMesh.Load.Scenarios;

/// <summary>
/// Content for the files the scenarios write: seeded random bytes with a stamp (block number, 4 KiB slot) at the
/// start of every 4 KiB. The stamps make every 4 KiB of every block distinct, so a content-addressed store cannot
/// deduplicate its way to a better score, and they let a read check that it got the right block at the right place.
/// </summary>
public sealed class Payload
{
    public const int Slot = 4096;
    private const ulong Magic = 0xD1_70_3E_5A_00_00_00_00;
    private readonly byte[] _random;

    public Payload(int size, int seed = 7)
    {
        _random = new byte[size];
        new Random(seed).NextBytes(_random);
    }

    public int Size => _random.Length;

    /// <summary>A random base for one run's stamps (block numbers stay far below 2^24, so runs never collide).</summary>
    public static long NewStampBase() => Random.Shared.NextInt64(1, 1L << 14) << 24;

    /// <summary>A fresh buffer holding the random bytes, to be stamped in place by <see cref="Stamp"/>.</summary>
    public byte[] NewBuffer() => (byte[])_random.Clone();

    /// <summary>Writes the stamps of <paramref name="block"/> into the first <paramref name="length"/> bytes of the buffer.</summary>
    public static void Stamp(Span<byte> buffer, long block, int length)
    {
        for (var offset = 0; offset + 16 <= length; offset += Slot)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(buffer[offset..], Magic ^ (ulong)block);
            BinaryPrimitives.WriteInt64LittleEndian(buffer[(offset + 8)..], offset / Slot);
        }
    }

    /// <summary>
    /// Checks the stamps and the random word after each one. Null when the data is what <see cref="Stamp"/> wrote
    /// for <paramref name="block"/>; otherwise what is wrong.
    /// </summary>
    public string? Verify(ReadOnlySpan<byte> data, long block)
    {
        for (var offset = 0; offset + 24 <= data.Length; offset += Slot)
        {
            if (BinaryPrimitives.ReadUInt64LittleEndian(data[offset..]) != (Magic ^ (ulong)block)
                || BinaryPrimitives.ReadInt64LittleEndian(data[(offset + 8)..]) != offset / Slot
                || !data.Slice(offset + 16, 8).SequenceEqual(_random.AsSpan(offset + 16, 8)))
            {
                return $"wrong content in block {block} at byte {offset}";
            }
        }
        return null;
    }
}
