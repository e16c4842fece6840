using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.Core.Wire;
using static DinoMesh.Core.Tests.Support.Hostile;

namespace DinoMesh.Core.Tests.Wire;

/// <summary>
/// MessagePack-specific hostile input for <see cref="MutationCodec"/>: the bytes a broken or malicious peer (or a
/// damaged disk) can hand the lease holder. Every case must end in the codec's <see cref="InvalidDataException"/> —
/// never another exception, a hang or an allocation the input did not pay for.
/// </summary>
public class MutationHostileInputTests
{
    // A kind inside an otherwise bare envelope: [kind, nil op, 0, 0, 0, nil groups, nil proposer].
    private const string BareTail = "c0 00 00 00 c0 c0";
    private static byte[] InEnvelope(string kind) => Hex("97" + kind + BareTail);
    private static string Name32 => "c4 20" + new string('a', 64);

    private const int Deep = 100_000;

    /// <summary>Inputs that must be refused. Each says in its name what it lies about.</summary>
    public static readonly IReadOnlyDictionary<string, byte[]> Refused = new Dictionary<string, byte[]>
    {
        ["empty input"] = [],
        ["nil"] = Hex("c0"),
        ["a bare integer"] = Hex("2a"),
        ["envelope with no kind"] = Hex("97 c0" + BareTail),
        ["empty envelope"] = Hex("90"),
        ["a valid mutation then trailing bytes"] = [.. MutationCodec.Encode(WireSamples.All["Noop"]), 0x00],
        ["two valid mutations back to back"] = [.. MutationCodec.Encode(WireSamples.All["Noop"]), .. MutationCodec.Encode(WireSamples.All["Noop"])],
        ["larger than the size bound"] = [.. MutationCodec.Encode(WireSamples.All["Noop (bare envelope)"]), .. new byte[MutationCodec.MaxBytes]],

        // Deep nesting: the whole input, the kind's body, and the union itself.
        ["arrays nested 100k deep"] = Repeat([0x91], Deep, [0x00]),
        ["maps nested 100k deep"] = Repeat([0x81, 0x00], Deep, [0x00]),
        ["kind body nested 100k deep"] = [.. Hex("97 92 01"), .. Repeat([0x91], Deep, [0x00]), .. Hex(BareTail)],

        // Huge declared lengths with no body behind them.
        ["envelope array32 of 2^31-1"] = Hex("dd 7fffffff"),
        ["envelope array32 of 2^32-1"] = Hex("dd ffffffff"),
        ["envelope map32 of 2^32-1"] = Hex("df ffffffff"),
        ["orphan list array32 of 2^31"] = InEnvelope("92 09 91 dd 80000000"),
        ["voter list array32 of 2^31-1"] = InEnvelope("92 0d 91 dd 7fffffff"),
        ["extent list array32 of 2^31-1"] = InEnvelope("92 06 92 05 dd 7fffffff"),
        ["caller groups array32 of 2^31"] = Hex("97 92 0a 90 c0 00 00 00 dd 80000000"),
        ["name bin32 of 2^31-1"] = InEnvelope("92 08 92 05 c6 7fffffff"),
        ["name bin32 of 2^32-1"] = InEnvelope("92 08 92 05 c6 ffffffff"),
        ["xattr value bin32 of 2^31-1"] = InEnvelope("92 07 93 05 c4 01 61 c6 7fffffff"),
        ["address str32 of 2^31-1"] = InEnvelope("92 0b 92" + Name32 + "db 7fffffff"),
        ["op client bin32 of 2^31-1"] = Hex("97 92 0a 90 92 c6 7fffffff"),
        ["ext32 of 2^31-1 as the kind"] = Hex("97 c9 7fffffff 01"),
        ["name longer than any name (64 KiB)"] = [.. Hex("97 92 08 92 05 c5 ffff"), .. new byte[0xFFFF], .. Hex(BareTail)],
        ["inline extent bytes over the inline bound"] = [.. Hex("97 92 06 92 05 91 95 00 00 c0 00 c5 2000"), .. new byte[0x2000], .. Hex(BareTail)],

        // Union tags that name nothing, or the wrong thing.
        ["unknown union tag 16"] = InEnvelope("92 10 90"),
        ["compaction without a digest"] = InEnvelope("92 0f 91 05"),
        ["compaction with a nil digest"] = InEnvelope("92 0f 94 05 92 00 01 c0 95 00 01 c0 00 c4 01 61"),
        ["unknown union tag 127"] = InEnvelope("92 7f 90"),
        ["negative union tag -1"] = InEnvelope("92 ff 90"),
        ["negative union tag int32 min"] = InEnvelope("92 d2 80000000 90"),
        ["union tag beyond int32"] = InEnvelope("92 cf 0000000100000001 90"),
        ["union tag as a string"] = InEnvelope("92 a1 31 90"),
        ["union tag as a float"] = InEnvelope("92 cb 3ff0000000000000 90"),
        ["union of three elements"] = InEnvelope("93 0a 90 90"),
        ["union of one element"] = InEnvelope("91 0a"),
        ["union as a map"] = InEnvelope("81 0a 90"),
        ["CreateNode tag with a Genesis body"] = InEnvelope("92 01 92 c4 10 00112233445566778899aabbccddeeff" + Name32),
        ["Genesis tag with a CreateNode body"] = InEnvelope("92 00 98 01 c4 01 61 cd 81a4 00 00 00 00 c0"),
        ["SetVoters tag with a list of integers"] = InEnvelope("92 0d 91 92 01 02"),
        ["RemoveMember tag with a short peer id"] = InEnvelope("92 0c 91 c4 03 aabbcc"),
        ["WriteExtents with an extent of four fields"] = InEnvelope("92 06 92 05 91 94 00 01 c0 00"),
        ["WriteExtents with an extent naming both a chunk and inline bytes"] = InEnvelope("92 06 92 05 91 95 00 01" + Name32 + "00 c4 01 07"),
        ["WriteExtents with an extent naming neither"] = InEnvelope("92 06 92 05 91 95 00 01 c0 00 c0"),
        ["a chunk id of 31 bytes"] = InEnvelope("92 06 92 05 91 95 00 01 c4 1f" + new string('0', 62) + "00 c0"),

        // Fields a record does not declare nullable, left out (a short array) or nil: found by the fuzz test below, where
        // they made Apply throw.
        ["an op id without a client"] = Hex("97 92 0a 90 90 00 00 00 c0 c0"),
        ["an op id with a nil client"] = Hex("97 92 0a 90 92 c0 01 00 00 00 c0 c0"),
        ["Genesis without a volume id"] = InEnvelope("92 00 90"),
        ["ReleaseOrphans without an inode list"] = InEnvelope("92 09 90"),
        ["ReleaseOrphans with a nil inode list"] = InEnvelope("92 09 91 c0"),
        ["AdmitMember without an address"] = InEnvelope("92 0b 91" + Name32),
        ["SetVoters with a nil list"] = InEnvelope("92 0d 91 c0"),
        ["WriteExtents without an extent list"] = InEnvelope("92 06 91 05"),
        ["SetXattr with a nil value"] = InEnvelope("92 07 93 05 c4 01 61 c0"),

        // Maps with many colliding keys where arrays belong (no type here is a dictionary, so nothing may hash them).
        ["the envelope as a map of 50k equal keys"] = [0xde, 0xc3, 0x50, .. Repeat([0x00, 0x00], 50_000, [])],
        ["a kind body as a map of 50k equal keys"] = [.. Hex("97 92 01 de c350"), .. Repeat([0x00, 0x00], 50_000, Hex(BareTail))],
        ["a kind body as a map of 50k equal string keys"] = [.. Hex("97 92 0b de c350"), .. Repeat([0xa1, 0x61, 0x00], 50_000, Hex(BareTail))],

        // Extension types where other types belong.
        ["fixext1 as the union tag"] = InEnvelope("92 d4 01 0a 90"),
        ["a timestamp ext as the time"] = Hex("97 92 0a 90 c0 d6 ff 00000001 00 00 c0 c0"),
        ["ext8 as an inode number"] = InEnvelope("92 0e 92 c7 08 05 0000000000000005 00"),
        ["fixext16 as a name"] = InEnvelope("92 08 92 05 d8 01 00112233445566778899aabbccddeeff"),
        ["ext32 as the proposer"] = Hex("97 92 0a 90 c0 00 00 00 c0 c9 00000020 01" + new string('a', 64)),
    };

    /// <summary>
    /// Inputs that are valid MessagePack carrying a valid mutation plus something a newer writer could add: keys past
    /// the last known one are skipped (that is how a format grows). They must decode to the mutation, within the bounds
    /// — however deep or wide the skipped part is.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, byte[]> SkippedExtras = new Dictionary<string, byte[]>
    {
        ["an unknown envelope key holding an ext32"] = Hex("98 92 0a 90" + BareTail + "c7 03 05 010203"),
        ["an unknown envelope key holding a map of 50k equal keys"] = [.. Hex("98 92 0a 90" + BareTail + "de c350"), .. Repeat([0x00, 0x00], 50_000, [])],
        ["an unknown envelope key holding arrays nested 12 deep"] = [.. Hex("98 92 0a 90" + BareTail), .. Repeat([0x91], 12, [0x00])],
        // Skipping does not recurse, so depth past the depth bound (16) costs only the bytes it takes.
        ["an unknown envelope key holding arrays nested 100k deep"] = [.. Hex("98 92 0a 90" + BareTail), .. Repeat([0x91], Deep, [0x00])],
        ["a Noop body with an unknown field of unions nested 100k deep"] = [0x97, .. Repeat([0x92, 0x0a], Deep, [0x90]), .. Hex(BareTail)],
    };

    public static TheoryData<string> RefusedNames() => [.. Refused.Keys];

    public static TheoryData<string> SkippedNames() => [.. SkippedExtras.Keys];

    public static TheoryData<string> SampleNames() => [.. WireSamples.All.Keys];

    [Theory]
    [MemberData(nameof(RefusedNames))]
    public void Hostile_input_is_refused_with_the_codecs_typed_error(string name)
    {
        var (mutation, error) = Hostile.Decode(name, Refused[name], bytes => MutationCodec.Decode(bytes));
        Assert.True(error is not null, $"{name}: decoded to {mutation?.KindName} instead of being refused");
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        // TryDecode says the same without throwing.
        Assert.False(MutationCodec.TryDecode(Refused[name], out _, out var message));
        Assert.Equal(error.Message, message);
    }

    [Theory]
    [MemberData(nameof(SkippedNames))]
    public void Unknown_trailing_keys_are_skipped_within_the_bounds(string name)
    {
        var (mutation, error) = Hostile.Decode(name, SkippedExtras[name], bytes => MutationCodec.Decode(bytes));
        Assert.True(error is null, $"{name}: {error?.Message}");
        WireEquality.AssertEqual(WireSamples.All["Noop (bare envelope)"], mutation);
    }

    [Theory]
    [MemberData(nameof(SampleNames))]
    public void A_valid_mutation_cut_at_any_byte_is_refused(string name)
    {
        var whole = MutationCodec.Encode(WireSamples.All[name]);
        for (var length = 0; length < whole.Length; length++)
        {
            var (mutation, error) = Hostile.Decode($"{name} cut to {length} of {whole.Length} bytes", whole[..length], bytes => MutationCodec.Decode(bytes));
            Assert.True(error is not null, $"{name} cut to {length} of {whole.Length} bytes decoded to {mutation?.KindName}");
        }
    }
}
