namespace DinoMesh.TestSupport;

/// <summary>
/// Damages valid MessagePack the ways that find decoder bugs: flipped bits, bytes replaced by type markers that declare
/// huge lengths or other types, inserted, deleted and duplicated ranges, cuts, and splices of two inputs. Only the
/// <see cref="Random"/> decides the damage, so a seed reproduces it.
/// </summary>
public static class ByteMutator
{
    /// <summary>Markers worth planting: nil, bools, ints, floats, bin/str/array/map headers of every width, ext.</summary>
    private static readonly byte[] Markers =
    [
        0xc0, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3,
        0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x90, 0x9f, 0x80, 0x8f, 0xa0, 0xbf, 0x7f, 0xff, 0xe0, 0x00,
    ];

    public static byte[] Damage(Random random, byte[] input, byte[] other)
    {
        var bytes = new List<byte>(input);
        var steps = random.Next(1, 5);
        for (var s = 0; s < steps; s++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(8))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[at] = Markers[random.Next(Markers.Length)];
                    break;
                case 2 when bytes.Count > 0:
                    // A marker followed by a length field of all ones: the biggest lie a header can tell.
                    bytes[at] = Markers[random.Next(Markers.Length)];
                    for (var k = 1; k <= 4 && at + k < bytes.Count; k++) bytes[at + k] = random.Next(2) == 0 ? (byte)0xff : (byte)0x7f;
                    break;
                case 3:
                    bytes.InsertRange(at, Enumerable.Range(0, random.Next(1, 9)).Select(_ => (byte)random.Next(256)));
                    break;
                case 4 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, random.Next(1, 9)));
                    break;
                case 5 when bytes.Count > 0:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 6 when bytes.Count > 0:
                    var length = Math.Min(bytes.Count - at, random.Next(1, 33));
                    bytes.InsertRange(random.Next(bytes.Count), bytes.GetRange(at, length));
                    break;
                default:
                    if (other.Length == 0) break;
                    var from = random.Next(other.Length);
                    bytes.RemoveRange(at, bytes.Count - at);
                    bytes.AddRange(other.AsSpan(from).ToArray());
                    break;
            }
        }
        return [.. bytes];
    }
}
