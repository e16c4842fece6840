using System.Reflection;
using DinoMesh.Cluster.Membership;
using DinoMesh.Cluster.Membership.Wire;
using DinoMesh.Cluster.Node;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Membership;

/// <summary>
/// The MessagePack form of every membership message and of the admit notice: round trips, golden bytes that pin the
/// encoding (an accidental format change fails here), and peer input that must be refused before or while decoding.
/// </summary>
public class MembershipWireTests
{
    // Fixed ids, so the golden bytes do not depend on hashing: a = 32 x 0xaa, b = 32 x 0xbb.
    private static readonly PeerId A = new(new string('a', 64));
    private static readonly PeerId B = new(new string('b', 64));

    private static readonly MemberUpdate[] Updates = [new Alive(A, 3, "a:1", "m"), new Suspect(B, 2, A), new Dead(B, 4, A), new Left(A, 9)];

    public static TheoryData<string, MembershipMessage> Messages() => new()
    {
        { "ping", new Ping(1, B, Updates) },
        { "ack", new Ack(2, Updates) },
        { "pingreq", new PingReq(3, B, "b:7946", Updates) },
        { "gossip", new Gossip(Updates) },
        { "sync", new Sync(true, [new MemberState(A, "a:1", MemberStatus.Left, 5, "x"), new MemberState(B, "b:1", MemberStatus.Suspect, 0, "")]) },
        { "nack", new Nack(7) },
    };

    // The bytes each message kind must encode to. Update one only on purpose, with the protocol table in docs/protocol.md.
    private static readonly Dictionary<string, string> Golden = new()
    {
        ["ping"] = "92009301c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb949600c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03a3613a31a16dc4009601c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb02a0a0c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9602c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb04a0a0c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9603c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa09a0a0c400",
        ["ack"] = "92019202949600c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03a3613a31a16dc4009601c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb02a0a0c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9602c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb04a0a0c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9603c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa09a0a0c400",
        ["pingreq"] = "92029403c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbba6623a37393436949600c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03a3613a31a16dc4009601c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb02a0a0c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9602c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb04a0a0c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9603c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa09a0a0c400",
        ["gossip"] = "920391949600c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03a3613a31a16dc4009601c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb02a0a0c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9602c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb04a0a0c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9603c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa09a0a0c400",
        ["sync"] = "920492c39295c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3613a310305a17895c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbba3623a310100a0",
        ["nack"] = "92059107",
        ["admit"] = "919292c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaae3132372e302e302e313a3739343692c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbba3683a31",
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_message_survives_the_wire(string kind, MembershipMessage message)
    {
        var bytes = MembershipWire.Encode(message);

        var ok = MembershipWire.TryDecode(bytes, out var back, out var error);

        Assert.True(ok, $"{kind}: {error}");
        Assert.Equal(Describe(message), Describe(back!));
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_message_kind_encodes_to_its_golden_bytes(string kind, MembershipMessage message)
    {
        var hex = Convert.ToHexStringLower(MembershipWire.Encode(message));
        TestContext.Current.TestOutputHelper?.WriteLine($"[\"{kind}\"] = \"{hex}\",");
        Assert.Equal(Golden[kind], hex);
    }

    [Fact]
    public void The_admit_notice_encodes_to_its_golden_bytes_and_round_trips()
    {
        var bytes = PeerInput.Encode(AdmitNotice.Of([(A, "127.0.0.1:7946"), (B, "h:1")]));
        var hex = Convert.ToHexStringLower(bytes);
        TestContext.Current.TestOutputHelper?.WriteLine($"[\"admit\"] = \"{hex}\",");

        Assert.True(AdmitNotice.TryDecode(bytes, out var peers, out var error), error);
        Assert.Equal([(A, "127.0.0.1:7946"), (B, "h:1")], peers);
        Assert.Equal(Golden["admit"], hex);
    }

    [Fact]
    public void A_union_is_a_tag_and_an_array_of_fields_in_key_order()
    {
        // 0x92 = array of 2: [tag 5, [seq 7]]. Pinned in words too, so the golden strings above are not magic.
        Assert.Equal("920591" + "07", Convert.ToHexStringLower(MembershipWire.Encode(new Nack(7))));
    }

    public static TheoryData<string, byte[]> Malformed() => new()
    {
        { "empty input", [] },
        { "nil", [0xc0] },
        { "unknown union tag", Hex("92" + "3f" + "91" + "07") },
        { "union without a body", Hex("91" + "05") },
        { "a map instead of an array", Hex("81a17801") },
        { "declared array of 2^32-1 elements", Hex("92" + "03" + "91" + "dd" + "ffffffff") },
        { "declared string of 2^32-1 bytes", Hex("92" + "02" + "94" + "01" + "c4" + "20" + new string('b', 64) + "db" + "ffffffff") },
        { "declared binary of 2^32-1 bytes", Hex("92" + "00" + "93" + "01" + "c6" + "ffffffff") },
        { "nesting deeper than any message", Hex(string.Concat(Enumerable.Repeat("91", 200)) + "00") },
        { "ping with a 3-byte target", Hex("92" + "00" + "93" + "01" + "c403010203" + "90") },
        { "trailing bytes after the message", Hex("920591" + "07" + "00") },
        { "truncated", Hex("920593") },
        { "update of unknown status", Encode(new WireGossip([new WireUpdate(9, Fill(0xaa), 1, "a:1", "", [])])) },
        { "alive without an address", Encode(new WireGossip([new WireUpdate(0, Fill(0xaa), 1, "", "", [])])) },
        { "suspect without a reporter", Encode(new WireGossip([new WireUpdate(1, Fill(0xaa), 1, "", "", [])])) },
        { "sync member of unknown status", Encode(new WireSync(false, [new WireMemberState(Fill(0xaa), "a:1", 4, 0, "")])) },
        { "nil update list", Hex("92" + "03" + "91" + "c0") },
        { "address longer than allowed", Encode(new WirePingReq(1, Fill(0xbb), new string('x', MembershipWire.MaxAddressLength + 1), [])) },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_peer_input_is_refused_with_a_reason(string what, byte[] bytes)
    {
        var ok = MembershipWire.TryDecode(bytes, out var message, out var error);

        Assert.False(ok, $"{what} was accepted as {message}");
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void Input_above_the_size_bound_is_refused_before_decoding()
    {
        // Valid bytes, only too many of them: the bound is checked first.
        var big = new byte[MembershipWire.MaxMessageBytes + 1];

        Assert.False(MembershipWire.TryDecode(big, out _, out var error));
        Assert.Contains("more than", error);
    }

    [Fact]
    public void A_full_state_sync_of_a_thousand_members_fits_well_within_the_bound()
    {
        var members = Enumerable.Range(0, 1000)
            .Select(i => new MemberState(PeerId.FromPublicKey(BitConverter.GetBytes(i)), $"10.0.{i / 250}.{i % 250}:7946", MemberStatus.Alive, (ulong)i, "member"))
            .ToList();

        var bytes = MembershipWire.Encode(new Sync(false, members));

        Assert.True(bytes.Length < MembershipWire.MaxMessageBytes / 20, $"{bytes.Length} bytes");
        Assert.True(MembershipWire.TryDecode(bytes, out var back, out var error), error);
        Assert.Equal(members, ((Sync)back).Members);
    }

    [Fact]
    public void Admit_notices_with_a_bad_peer_are_refused()
    {
        var shortId = PeerInput.Encode(new AdmitNotice([new AdmittedPeer([1, 2, 3], "h:1")]));
        var noAddress = PeerInput.Encode(new AdmitNotice([new AdmittedPeer(Fill(0xaa), "")]));

        Assert.False(AdmitNotice.TryDecode(shortId, out _, out _));
        Assert.False(AdmitNotice.TryDecode(noAddress, out _, out _));
        Assert.False(AdmitNotice.TryDecode(new byte[AdmitNotice.MaxBytes + 1], out _, out _));
    }

    [Fact]
    public void A_member_set_answer_is_the_admitted_peers_and_the_version_they_are_complete_through()
    {
        var bytes = PeerInput.Encode(new MemberSetAnswer([new AdmittedPeer(A.ToBytes(), "h:1")], 300));

        // [ [ [bin32 id, "h:1"] ], 300 ]
        Assert.Equal("92" + "91" + "92" + "c420" + new string('a', 64) + "a3" + "683a31" + "cd012c", Convert.ToHexStringLower(bytes));
        Assert.True(MemberSetAnswer.TryDecode(bytes, out var answer, out var peers, out var error), error);
        Assert.Equal(300, answer.KnownThrough);
        Assert.Equal([(A, "h:1")], peers);
        Assert.Equal("91" + "cd012c", Convert.ToHexStringLower(PeerInput.Encode(new MemberSetQuestion(300))));
    }

    [Fact]
    public void A_member_set_answer_with_a_bad_peer_or_a_negative_version_is_refused()
    {
        Assert.False(MemberSetAnswer.TryDecode(PeerInput.Encode(new MemberSetAnswer([new AdmittedPeer([1, 2, 3], "h:1")], 3)), out _, out _, out _));
        Assert.False(MemberSetAnswer.TryDecode(PeerInput.Encode(new MemberSetAnswer([new AdmittedPeer(Fill(0xaa), "")], 3)), out _, out _, out _));
        Assert.False(MemberSetAnswer.TryDecode(PeerInput.Encode(new MemberSetAnswer([], -1)), out _, out _, out _));
        Assert.False(MemberSetAnswer.TryDecode(PeerInput.Encode(new MemberSetAnswer(null!, 3)), out _, out _, out _));
    }

    private static byte[] Fill(byte value) => Enumerable.Repeat(value, 32).ToArray();

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    private static byte[] Encode(WireMessage message) => PeerInput.Encode(message);

    // Records compare lists by reference; compare their contents instead.
    private static string Describe(MembershipMessage message)
    {
        var updates = message.GetType().GetProperty("Updates")?.GetValue(message) as IEnumerable<MemberUpdate>;
        var members = (message as Sync)?.Members;
        var scalars = message.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.Name is not ("Updates" or "Members" or "EqualityContract"))
            .Select(p => $"{p.Name}={p.GetValue(message)}");
        return $"{message.GetType().Name}({string.Join(",", scalars)}) [{string.Join(";", updates ?? [])}] [{string.Join(";", members ?? [])}]";
    }
}
