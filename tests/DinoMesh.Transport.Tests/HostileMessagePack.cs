using System.Buffers.Binary;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// MessagePack inputs built to hurt a decoder rather than to be merely wrong: nesting that would exhaust a recursive
/// decoder's stack, lengths that ask it to allocate gigabytes, union tags it does not know, maps it would hash badly.
/// </summary>
internal static class HostileMessagePack
{
    public sealed record Case(string Name, byte[] Bytes);

    public static IReadOnlyList<Case> All { get; } =
    [
        new("arrays nested 1000 deep", [.. Enumerable.Repeat((byte)0x91, 1000), 0x01]),
        new("maps nested 300 deep", [.. Enumerable.Range(0, 300).SelectMany(_ => new byte[] { 0x81, 0x01 }), 0x01]),
        new("array32 declaring 4 G elements", [0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]),
        new("map32 declaring 4 G pairs", [0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01]),
        new("array16 declaring 65535 elements in 3 bytes", [0xdc, 0xff, 0xff, 0x01, 0x02, 0x03]),
        new("str32 declaring 4 GiB", [0x93, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x41]),
        new("bin32 declaring 2 GiB", [0x93, 0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00]),
        new("ext32 declaring 2 GiB", [0x91, 0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x00]),
        new("union with an unknown tag", [0x92, 0x7f, 0x91, 0x01]),
        new("union with a string tag", [0x92, 0xa1, (byte)'x', 0x91, 0x01]),
        new("union with a negative tag", [0x92, 0xff, 0x91, 0x01]),
        new("union array of three", [0x93, 0x00, 0x91, 0x01, 0x00]),
        new("the never-used code 0xc1", [0x91, 0xc1]),
        new("nil", [0xc0]),
        new("a map where an array is expected", [0x81, 0x00, 0x2a]),
        new("a map with one key twice", [0x91, 0x82, 0x01, 0x01, 0x01, 0x02]),
        new("trailing bytes after a message", [0x91, 0x2a, 0x00]),
        new("truncated float64", [0x91, 0xcb, 0x00, 0x00]),
        new("empty input", []),
        new("map of 64 colliding int64 keys", CollidingInt64Map(64)),
    ];

    /// <summary>
    /// [ { k: 0 } ] with <paramref name="count"/> int64 keys that all hash to 0 under <c>long.GetHashCode</c> (which xors
    /// the two halves): a decoder filling a Dictionary with the default comparer does quadratic work on them.
    /// </summary>
    public static byte[] CollidingInt64Map(int count)
    {
        var bytes = new List<byte> { 0x91, 0xdf };
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)count);
        bytes.AddRange(header);
        var key = new byte[8];
        for (long i = 1; i <= count; i++)
        {
            bytes.Add(0xd3);
            BinaryPrimitives.WriteInt64BigEndian(key, (i << 32) | i);
            bytes.AddRange(key);
            bytes.Add(0x00);
        }
        return [.. bytes];
    }
}
