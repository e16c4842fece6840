using System.Reflection;
using DinoMesh.Cluster.Lease;
using MessagePack;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>
/// The exact bytes of every lease message kind (as a <see cref="LeaseMessage"/> union, the form they take inside a
/// <see cref="LeaseBatch"/>) and of every record the lease service puts on the wire, through <see cref="LeaseCodec"/>.
/// These are the wire format of /dinomesh/lease/1, /propose/1 and /sync/1: a test here fails on any change to a key,
/// a union tag or a formatter. If the change is deliberate, the failure prints the new line to paste, and the lease
/// tables in docs/protocol.md change with it.
/// </summary>
public class LeaseWireGoldenTests
{
    private static readonly Dictionary<string, string> Golden = new()
    {
        // The lease messages through the union (tag in the first byte after 0x92; tag 4 is retired), then the service's records.
        ["VoteRequest"] = "92009507c3cd012c06c3",
        ["VoteResponse"] = "92019307c3c3",
        ["Append"] = "92029707280692932906c403010203932a07c401ff272ac3",
        ["AppendResponse"] = "92039707c32a2903c3c3",
        ["TimeoutNow"] = "92059108",
        ["LeaseBatch"] = "919a92009507c3cd012c06c392019307c3c392029707280692932906c403010203932a07c401ff272ac392039707c32a2903c3c39205910892069207cd012c9207930729cd020092089507280692932906c403010203932a07c401ff2a92099907ce000186a006ce000f4243ce000f4240c403090807c3c420dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd92c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb920a9607ce000186a006ce000f4240c303",
        ["LogDigest"] = "92069207cd012c",
        ["LogPull"] = "9207930729cd0200",
        ["LogEntries"] = "92089507280692932906c403010203932a07c401ff2a",
        ["SnapshotPiece"] = "92099907ce000186a006ce000f4243ce000f4240c403090807c3c420dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd92c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        ["SnapshotAck"] = "920a9607ce000186a006ce000f4240c303",
        ["ProposeRequest"] = "91c40397920a",
        ["ProposeResponse"] = "94032a74c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        ["SyncRequest"] = "912a",
        ["SyncResponse"] = "926ec420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ["ReadIndexResponse"] = "92cd1092c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    };

    public static TheoryData<string> Samples() => [.. LeaseWireSamples.All.Keys];

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_lease_wire_kind_encodes_to_its_golden_bytes(string name)
    {
        var hex = Convert.ToHexStringLower(LeaseWireSamples.All[name].Encode());
        var line = $"[\"{name}\"] = \"{hex}\",";
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        Assert.True(Golden.TryGetValue(name, out var golden) && golden == hex,
            $"the encoding of {name} changed (or is new). If that is deliberate, update the golden line to:\n{line}\nwas:\n\"{golden}\"");
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void The_golden_bytes_decode_to_the_sample(string name)
    {
        Assert.True(Golden.TryGetValue(name, out var golden), $"no golden bytes for {name}");
        var sample = LeaseWireSamples.All[name];

        var decoded = sample.Decode(Convert.FromHexString(golden));

        Assert.Equal(sample.Value.GetType(), decoded.GetType());
        Assert.Equal(LeaseWireSamples.Render(sample.Value), LeaseWireSamples.Render(decoded));
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_field_of_every_sample_is_set_to_something_other_than_its_default(string name)
    {
        // A field left at its default could be dropped or moved by the encoder without the golden bytes noticing much.
        AssertAllSet(LeaseWireSamples.All[name].Value, name);
    }

    [Fact]
    public void Every_union_tag_has_a_sample_that_carries_that_tag()
    {
        // A new kind must get a sample here; a renumbered tag fails even before the hex comparison.
        var tags = typeof(LeaseMessage).GetCustomAttributes<UnionAttribute>().ToDictionary(u => u.SubType, u => u.Key);
        Assert.Equal(10, tags.Count);
        Assert.DoesNotContain(4, tags.Values);   // the retired whole-snapshot message: never reused
        foreach (var (type, tag) in tags)
        {
            Assert.True(Golden.TryGetValue(type.Name, out var hex), $"no golden sample for union tag {tag} ({type.Name})");
            // [0x92: the union, [tag, fields]] [tag as a positive fixint]
            Assert.Equal(new byte[] { 0x92, (byte)tag }, Convert.FromHexString(hex)[..2]);
        }
    }

    [Fact]
    public void A_lease_message_is_a_tag_and_an_array_of_its_fields_in_key_order()
    {
        // Pinned in words too, so the golden strings are not magic: [5, [8]] for TimeoutNow(8), and a batch is [[...]].
        Assert.Equal("92" + "05" + "91" + "08", Convert.ToHexStringLower(LeaseCodec.Encode<LeaseMessage>(new TimeoutNow(8))));
        Assert.Equal("91" + "91" + "92059108", Convert.ToHexStringLower(LeaseCodec.Encode(new LeaseBatch([new TimeoutNow(8)]))));
    }

    [Fact]
    public void An_append_response_from_a_sender_without_key_4_decodes_with_life_0()
    {
        // Key 4 (Life) was added to AppendResponse; a sender that predates it writes four fields.
        var decoded = LeaseCodec.Decode<LeaseMessage>(Convert.FromHexString("92039407c32a29"), LeaseProtocols.MaxLeaseBytes);

        Assert.Equal(LeaseWireSamples.Render(new AppendResponse(7, true, 42, 41, Life: 0)), LeaseWireSamples.Render(decoded));
    }

    [Fact]
    public void An_append_response_from_a_sender_without_key_5_decodes_as_not_diverged()
    {
        // Key 5 (Diverged) was added to AppendResponse; a sender that predates it writes five fields.
        var decoded = LeaseCodec.Decode<LeaseMessage>(Convert.FromHexString("92039507c32a2903"), LeaseProtocols.MaxLeaseBytes);

        Assert.Equal(LeaseWireSamples.Render(new AppendResponse(7, true, 42, 41, Life: 3, Diverged: false)), LeaseWireSamples.Render(decoded));
    }

    [Fact]
    public void An_append_and_its_answer_from_a_sender_without_key_6_decode_as_not_idle()
    {
        // Key 6 (Idle) was added to Append and AppendResponse; a sender that predates it writes six fields.
        var append = LeaseCodec.Decode<LeaseMessage>(Convert.FromHexString("92029607280692932906c403010203932a07c401ff272a"), LeaseProtocols.MaxLeaseBytes);
        var answer = LeaseCodec.Decode<LeaseMessage>(Convert.FromHexString("92039607c32a2903c3"), LeaseProtocols.MaxLeaseBytes);

        Assert.False(Assert.IsType<Append>(append).Idle);
        Assert.Equal(LeaseWireSamples.Render(new AppendResponse(7, true, 42, 41, Life: 3, Diverged: true, Idle: false)), LeaseWireSamples.Render(answer));
    }

    [Fact]
    public void The_comparison_used_above_sees_a_difference_deep_inside_a_message()
    {
        // Guards The_golden_bytes_decode_to_the_sample: a changed byte of one entry's payload must show.
        var append = (Append)LeaseWireSamples.Messages[2];
        var changed = append with { Entries = [append.Entries[0], append.Entries[1] with { Payload = [0xfe] }] };
        Assert.NotEqual(LeaseWireSamples.Render(append), LeaseWireSamples.Render(changed));
        Assert.NotEqual(LeaseWireSamples.Render(new AppendResponse(7, true, 42, 41, 3)), LeaseWireSamples.Render(new AppendResponse(7, true, 42, 41, 4)));
    }

    private static void AssertAllSet(object value, string path)
    {
        foreach (var property in LeaseWireSamples.Keyed(value.GetType()))
        {
            var field = property.GetValue(value);
            var at = $"{path}.{property.Name}";
            Assert.False(field is null, $"{at} is nil");
            var type = field.GetType();
            Assert.False(type.IsValueType && field.Equals(Activator.CreateInstance(type)), $"{at} is its default ({field})");
            if (field is Array { Length: 0 }) Assert.Fail($"{at} is empty");
            if (field is Array array)
            {
                foreach (var element in array)
                {
                    if (element is not null && LeaseWireSamples.Keyed(element.GetType()).Any()) AssertAllSet(element, at + "[]");
                }
            }
            else if (LeaseWireSamples.Keyed(type).Any())
            {
                AssertAllSet(field, at);
            }
        }
    }
}
