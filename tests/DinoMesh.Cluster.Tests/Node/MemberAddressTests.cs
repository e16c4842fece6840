using System.Net;
using DinoMesh.Cluster.Node;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Node;

/// <summary>
/// The addresses members are known at, which the transport asks at accept to count a connection's handshake in the
/// members' lane (ConnectionGate): the IPs of admitted peers' advertised addresses, following admissions, address
/// changes and evictions.
/// </summary>
public sealed class MemberAddressTests
{
    private static readonly PeerId A = PeerId.FromBytes([.. Enumerable.Repeat((byte)1, 32)]);
    private static readonly PeerId B = PeerId.FromBytes([.. Enumerable.Repeat((byte)2, 32)]);

    [Fact]
    public void An_admitted_peers_advertised_ip_is_a_member_address_until_it_moves_or_is_evicted()
    {
        var peers = new AdmittedPeers([new KnownPeer(A.Hex, "10.0.0.1:7946")]);
        Assert.True(peers.IsMemberAddress(IPAddress.Parse("10.0.0.1")));
        Assert.False(peers.IsMemberAddress(IPAddress.Parse("10.0.0.2")));

        peers.Admit(B, "[fd00::2]:7946");
        peers.Admit(A, "10.0.0.3:7946");
        Assert.True(peers.IsMemberAddress(IPAddress.Parse("fd00::2")));
        Assert.True(peers.IsMemberAddress(IPAddress.Parse("10.0.0.3")));
        Assert.False(peers.IsMemberAddress(IPAddress.Parse("10.0.0.1")));

        peers.Evict(B);
        Assert.False(peers.IsMemberAddress(IPAddress.Parse("fd00::2")));
    }

    [Fact]
    public void A_member_known_by_a_host_name_gives_no_address()
    {
        var peers = new AdmittedPeers([new KnownPeer(A.Hex, "node-a.example:7946")]);
        Assert.False(peers.IsMemberAddress(IPAddress.Loopback));
    }
}
