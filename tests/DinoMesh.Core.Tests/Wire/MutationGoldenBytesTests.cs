using System.Reflection;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;
using DinoMesh.Core.Wire;
using MessagePack;

namespace DinoMesh.Core.Tests.Wire;

/// <summary>
/// The exact bytes of one mutation of every kind, through the <see cref="Mutation"/> envelope and
/// <see cref="MutationCodec"/>. These are the log's and the wire's format: a test here fails on any change to a key, a
/// union tag, a formatter or the envelope. If the change is deliberate, the failure message prints the new line to
/// paste, and docs/protocol.md changes with it.
/// </summary>
public class MutationGoldenBytesTests
{
    // Union tags 0-14 in order, then the envelope and the optional fields at their defaults. Every envelope above the
    // last three is [kind, op [c11e4701, 42], time, uid 1000, gid 100, groups [4, 27], proposer 32 x 0xaa].
    private static readonly Dictionary<string, string> Golden = new()
    {
        ["Genesis"] = "97920092c410101112131415161718191a1b1c1d1e1fc420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb92c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["CreateNode"] = "9792019801c40866696c652e747874cd81b612cd03e864cd0803c40374677492c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["RemoveEntry"] = "9792029402c4036f6c64c392070992c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["Rename"] = "9792039602c4016103c4016202910b92c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["Link"] = "979204930502c4046861726492c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["SetAttributes"] = "9792059a05cd81ed0708cf0000000200000000ffcf000000e8d4a51000ccffc3c392c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["WriteExtents"] = "9792069605929500cd1000c420000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fcc80c095cd200003c000c403010203cd23284d9192cd1000cd1000c092c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["SetXattr"] = "9792079605c406757365722e6bc40200ff01c2c392c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["RemoveXattr"] = "9792089205c406757365722e6b92c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["ReleaseOrphans"] = "979209919203cfffffffffffffffff92c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["Noop"] = "97920a9092c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["AdmitMember"] = "97920b92c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbad31302e302e302e323a3739343692c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["RemoveMember"] = "97920c91c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb92c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["SetVoters"] = "97920d9192c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb92c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["SetAccessTime"] = "97920e9205d3800000000000000092c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["CompactExtents"] = "97920f940592cd1000cd2000c420404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f95cd1000cd2000c420000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00c092c404c11e47012acf17979cfe3d85cd15cd03e86492041bc420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["Noop (bare envelope)"] = "97920a90c0000000c0c0",
        ["SetAttributes (defaults)"] = "9792059a05c0c0c0c0c0c0c0c2c2c0000000c0c0",
        ["WriteExtents (defaults)"] = "97920696059000c0c0c0c0000000c0c0",
        ["WriteExtents (append)"] = "97920696059195cd200003c000c403010203cd2003c0c0cd2000c0000000c0c0",
    };

    public static TheoryData<string> Samples() => [.. WireSamples.All.Keys];

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_mutation_kind_encodes_to_its_golden_bytes(string name)
    {
        var hex = Convert.ToHexStringLower(MutationCodec.Encode(WireSamples.All[name]));
        var line = $"[\"{name}\"] = \"{hex}\",";
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        Assert.True(Golden.TryGetValue(name, out var golden) && golden == hex,
            $"the encoding of {name} changed (or is new). If that is deliberate, update the golden line to:\n{line}\nwas:\n\"{golden}\"");
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void The_golden_bytes_decode_to_the_instance(string name)
    {
        Assert.True(Golden.ContainsKey(name), $"no golden bytes for {name}");
        var decoded = MutationCodec.Decode(Convert.FromHexString(Golden[name]));
        WireEquality.AssertEqual(WireSamples.All[name], decoded, name);
    }

    [Fact]
    public void Every_union_tag_has_a_golden_sample_that_carries_that_tag()
    {
        // A new kind must get a sample (and golden bytes) here; a renumbered tag fails even before the hex comparison.
        var tags = typeof(MutationKind).GetCustomAttributes<UnionAttribute>().ToDictionary(u => u.SubType, u => u.Key);
        Assert.Equal(16, tags.Count);
        foreach (var (type, tag) in tags)
        {
            Assert.True(Golden.TryGetValue(type.Name, out var hex), $"no golden sample for union tag {tag} ({type.Name})");
            var bytes = Convert.FromHexString(hex);
            // [0x97: the envelope's 7 keys] [0x92: the union, [tag, fields]] [tag as a positive fixint]
            Assert.Equal(new byte[] { 0x97, 0x92, (byte)tag }, bytes[..3]);
        }
    }

    [Fact]
    public void The_envelope_is_an_array_of_its_keys_in_order_with_the_union_first()
    {
        // Pinned in words too, so the golden strings are not magic: [[10, []], nil, 0, 0, 0, nil, nil] for a bare Noop.
        Assert.Equal("97" + "920a90" + "c0" + "00" + "00" + "00" + "c0" + "c0", Convert.ToHexStringLower(MutationCodec.Encode(WireSamples.All["Noop (bare envelope)"])));
    }

    [Fact]
    public void The_comparison_used_above_sees_a_difference_deep_inside_a_kind()
    {
        // Guards The_golden_bytes_decode_to_the_instance: records compare arrays by reference, the comparer must not.
        var write = (WriteExtents)WireSamples.All["WriteExtents"].Kind;
        var changed = WireSamples.Envelope(write with { Extents = [write.Extents[0], write.Extents[1] with { Inline = [1, 2, 4] }] });
        WireEquality.AssertEqual(WireSamples.All["WriteExtents"], MutationCodec.Decode(MutationCodec.Encode(WireSamples.All["WriteExtents"])));
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => WireEquality.AssertEqual(WireSamples.All["WriteExtents"], changed));
    }
}
