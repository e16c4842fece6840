using System.Text;
using DinoMesh.Transport.Messages;
using DinoMesh.Transport.Wire;

namespace DinoMesh.Transport.Tests;

/// <summary>
/// Pins the bytes of every transport and join message, as docs/protocol.md tables them: a change here is a change of
/// the wire format, which needs a new protocol version, not an edited expectation.
/// </summary>
public class WireGoldenTests
{
    private static readonly byte[] ClusterId = PeerMessageCodecTests.Bytes(16, 0x00);
    private static readonly byte[] Proof = PeerMessageCodecTests.Bytes(32, 0x20);
    private static readonly byte[] Peer = PeerMessageCodecTests.Bytes(32, 0x40);

    [Fact]
    public void JoinRequest_is_an_array_of_cluster_id_proof_and_address()
    {
        var bytes = PeerMessageCodec.Serialize(new JoinRequest(ClusterId, Proof, "10.0.0.1:7946"));

        Assert.Equal(
            "93" +                                // array of 3
            "C410" + Hex(ClusterId) +             // [0] bin8, 16 bytes
            "C420" + Hex(Proof) +                 // [1] bin8, 32 bytes
            "AD" + Ascii("10.0.0.1:7946"),        // [2] fixstr, 13 characters
            Convert.ToHexString(bytes));
    }

    [Fact]
    public void JoinResponse_is_an_array_of_cluster_id_proof_members_founders_and_admission_version()
    {
        var bytes = PeerMessageCodec.Serialize(new JoinResponse(ClusterId, Proof, [new ClusterMember(Peer, "h:1")], [Peer], 300));

        Assert.Equal(
            "95" +                                // array of 5
            "C410" + Hex(ClusterId) +             // [0] cluster id
            "C420" + Hex(Proof) +                 // [1] member proof
            "91" +                                // [2] array of 1 member
            "92" + "C420" + Hex(Peer) + "A3" + Ascii("h:1") + // ClusterMember [0] PeerId bin8 32, [1] address
            "91" + "C420" + Hex(Peer) +           // [3] array of 1 founder PeerId
            "CD012C",                             // [4] admitted at version 300 (uint16)
            Convert.ToHexString(bytes));
    }

    [Fact]
    public void A_JoinResponse_of_four_keys_from_an_older_member_decodes_with_admission_version_0()
    {
        var old = Convert.FromHexString(
            "94" + "C410" + Hex(ClusterId) + "C420" + Hex(Proof) + "91" + "92" + "C420" + Hex(Peer) + "A3" + Ascii("h:1") + "91" + "C420" + Hex(Peer));

        Assert.True(PeerMessageCodec.TryDeserialize<JoinResponse>(old, 1024 * 1024, out var response, out var error), error);
        Assert.Equal(0, response!.AdmittedAt);
        Assert.Equal(Peer, Assert.Single(response.Members).Peer);
    }

    [Fact]
    public void ClusterMember_is_an_array_of_PeerId_bytes_and_address()
    {
        Assert.Equal("92C420" + Hex(Peer) + "A3" + Ascii("h:1"), Convert.ToHexString(PeerMessageCodec.Serialize(new ClusterMember(Peer, "h:1"))));
    }

    [Theory]
    [InlineData(42UL, "912A")]                             // positive fixint
    [InlineData(200UL, "91CCC8")]                          // uint8
    [InlineData(0x1_0000_0000UL, "91CF0000000100000000")] // uint64
    [InlineData(ulong.MaxValue, "91CFFFFFFFFFFFFFFFFF")]
    public void Ping_is_an_array_of_the_nonce(ulong nonce, string expected)
    {
        Assert.Equal(expected, Convert.ToHexString(PeerMessageCodec.Serialize(new Ping(nonce))));
    }

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes);

    private static string Ascii(string text) => Convert.ToHexString(Encoding.ASCII.GetBytes(text));
}
