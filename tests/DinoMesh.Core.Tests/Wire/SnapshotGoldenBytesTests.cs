using DinoMesh.Core.Metadata;
using DinoMesh.Core.Tests.Support;

namespace DinoMesh.Core.Tests.Wire;

/// <summary>
/// The exact bytes of a small snapshot through <see cref="StateSnapshotCodec"/> (format 1). A snapshot written by one
/// version of dino-node is read by the next, and its hash is how replicas compare: any change to the layout fails here.
/// If the change is deliberate, bump <see cref="StateSnapshotCodec.FormatVersion"/>, paste the hex the failure prints,
/// and update docs/protocol.md.
/// </summary>
public class SnapshotGoldenBytesTests
{
    private const string Golden =
        "9bb164696e6f6d6573682d736e617073686f74010b06c410101112131415161718191a1b1c1d1e1f94c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbba6623a3739343691c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa959f01cd41ed00000300cd03e8cd2710cd271000c00194c4016402c401730490909f02cd41ed00000200cd0fa0cd1388cd138800c00192c401660390909f03cd81a4cd03e86401cd1002cd1388cd1770cd1b5800c00290929500cd1000c420000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00c095cd100002c000c402070892c406757365722e6bc40201029f04cda1ff00000100cd1f40cd1f40cd1f4000c403642f66019090909f05cd81a400000000cd2328cd2328cd271000c0019090909194c401c105cd138892010291920592c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb91c420cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    [Fact]
    public void A_small_snapshot_encodes_to_its_golden_bytes()
    {
        var hex = Convert.ToHexStringLower(StateSnapshotCodec.Encode(SmallSnapshot.Build()));
        TestContext.Current.TestOutputHelper?.WriteLine(hex);
        Assert.True(hex == Golden, $"the snapshot encoding changed. If that is deliberate, update the golden string to:\n\"{hex}\"");
    }

    [Fact]
    public void The_golden_snapshot_decodes_to_the_state()
    {
        var expected = SmallSnapshot.Build();
        var decoded = StateSnapshotCodec.Decode(Convert.FromHexString(Golden));

        StateEquality.AssertEqual(expected, decoded);
        Assert.Equal(expected.VolumeId, decoded.VolumeId);
        Assert.Equal(expected.Members, decoded.Members);
        Assert.Equal(expected.Voters, decoded.Voters);
        Assert.Equal(expected.Evicted, decoded.Evicted);
        Assert.Equal(expected.Orphans.OrderBy(o => o.Key).Select(o => (o.Key, string.Join(",", o.Value))), decoded.Orphans.OrderBy(o => o.Key).Select(o => (o.Key, string.Join(",", o.Value))));
        Assert.Equal(expected.ChunkRefs.OrderBy(c => c.Key.ToString()), decoded.ChunkRefs.OrderBy(c => c.Key.ToString()));
        Assert.Equal(expected.Clients.Keys.Order(), decoded.Clients.Keys.Order());
        foreach (var (client, window) in expected.Clients)
        {
            var back = decoded.Clients[client];
            Assert.Equal(window.Recent, back.Recent);
            Assert.Equal((window.LastVersion, window.LastTimeNs), (back.LastVersion, back.LastTimeNs));
        }
    }

    [Fact]
    public void The_small_state_fills_every_top_level_field()
    {
        // Guards the two tests above: an empty list on the wire pins nothing about its elements.
        var s = SmallSnapshot.Build();
        Assert.Equal(2, s.Members.Count);
        Assert.Equal([WireSamples.A], s.Voters);
        Assert.Equal([SmallSnapshot.C], s.Evicted);
        Assert.Equal([WireSamples.A, WireSamples.B], Assert.Single(s.Orphans).Value);
        Assert.Equal(2, Assert.Single(s.Clients).Value.Recent.Count);
        Assert.Equal(2, s.Get(3).Extents.Count);
        Assert.NotNull(s.Get(3).Extents.Last().Inline);
        Assert.NotEmpty(s.Get(3).Xattrs);
        Assert.NotNull(s.Get(4).SymlinkTarget);
    }

    [Fact]
    public void The_snapshot_starts_with_its_magic_and_format_version()
    {
        // [0x9b: 11 fields] [0xb1: str of 17 "dinomesh-snapshot"] [0x01: format 1] — pinned in words, so the hex is not magic.
        Assert.StartsWith("9b" + "b1" + Convert.ToHexStringLower("dinomesh-snapshot"u8) + "01", Golden);
    }
}
