using DinoMesh.Core.Identity;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Messages;
using DinoMesh.Transport.Wire;

namespace DinoMesh.Transport.Join;

/// <summary>Joiner side of <see cref="ProtocolIds.Join"/>.</summary>
public static class JoinClient
{
    /// <summary>
    /// Asks the node at <paramref name="address"/> to admit this node. The answering node may be anyone at first; it
    /// must prove it knows the join secret, else the result is <see cref="CallFailure.IdentityMismatch"/>.
    /// </summary>
    public static async Task<CallResult<JoinResult>> JoinAsync(
        PeerTransport transport, string address, JoinToken token, TimeSpan deadline, CancellationToken ct = default)
    {
        var request = new JoinRequest(token.ClusterId.ToArray(), token.JoinerProof(transport.Self), transport.Advertise);
        var call = await transport.CallAsync(address, null, ProtocolIds.Join, PeerMessageCodec.Serialize(request), deadline, ct, JoinGate.MaxResponseBytes);
        var decoded = PeerMessageCodec.DecodeAnswer<JoinResponse>(call, JoinGate.MaxResponseBytes, "join response");
        if (!decoded.Ok) return decoded.As<JoinResult>();
        var response = decoded.Value!;
        if (!response.ClusterId.AsSpan().SequenceEqual(token.ClusterId))
        {
            return CallResult<JoinResult>.Fail(CallFailure.BadResponse, "join response names another cluster", call.Peer);
        }
        if (!token.VerifyMemberProof(response.MemberProof, call.Peer, transport.Self))
        {
            return CallResult<JoinResult>.Fail(CallFailure.IdentityMismatch, $"peer {call.Peer.Hex} could not prove it knows the join secret", call.Peer);
        }

        var members = new List<ClusterMemberInfo>();
        foreach (var m in response.Members)
        {
            if (!JoinGate.IsHostPort(m.Address))
            {
                return CallResult<JoinResult>.Fail(CallFailure.BadResponse, "join response lists a member without a host:port address", call.Peer);
            }
            members.Add(new ClusterMemberInfo(WirePeerId.FromBytes(m.Peer), m.Address));
        }
        var founders = new List<PeerId>();
        foreach (var f in response.Founders) founders.Add(WirePeerId.FromBytes(f));
        return CallResult<JoinResult>.Success(new JoinResult(token.ClusterIdHex, call.Peer, members, founders, response.AdmittedAt), call.Peer, call.Elapsed);
    }
}
