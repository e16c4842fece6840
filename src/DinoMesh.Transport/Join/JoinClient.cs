using DinoMesh.Core.Identity;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Wire;
using Google.Protobuf;

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
        var request = new JoinRequest
        {
            ClusterId = ByteString.CopyFrom(token.ClusterId),
            Proof = ByteString.CopyFrom(token.JoinerProof(transport.Self)),
            Advertise = transport.Advertise,
        };
        var call = await transport.CallAsync(address, null, ProtocolIds.Join, request.ToByteArray(), deadline, ct, 1024 * 1024);
        if (!call.Ok) return call.As<JoinResult>();

        JoinResponse response;
        try
        {
            response = JoinResponse.Parser.ParseFrom(call.Value);
        }
        catch (InvalidProtocolBufferException e)
        {
            return CallResult<JoinResult>.Fail(CallFailure.BadResponse, "undecodable join response: " + e.Message, call.Peer);
        }
        if (!response.ClusterId.Span.SequenceEqual(token.ClusterId))
        {
            return CallResult<JoinResult>.Fail(CallFailure.BadResponse, "join response names another cluster", call.Peer);
        }
        if (!token.VerifyMemberProof(response.MemberProof.Span, call.Peer, transport.Self))
        {
            return CallResult<JoinResult>.Fail(CallFailure.IdentityMismatch, $"peer {call.Peer.Hex} could not prove it knows the join secret", call.Peer);
        }

        var members = new List<ClusterMemberInfo>();
        foreach (var m in response.Members)
        {
            if (!PeerId.TryParse(m.PeerId, out var id) || !JoinGate.IsHostPort(m.Address))
            {
                return CallResult<JoinResult>.Fail(CallFailure.BadResponse, "join response lists a malformed member", call.Peer);
            }
            members.Add(new ClusterMemberInfo(id, m.Address));
        }
        var founders = new List<PeerId>();
        foreach (var f in response.Founders)
        {
            if (!PeerId.TryParse(f, out var id)) return CallResult<JoinResult>.Fail(CallFailure.BadResponse, "join response lists a malformed founder", call.Peer);
            founders.Add(id);
        }
        return CallResult<JoinResult>.Success(new JoinResult(token.ClusterIdHex, call.Peer, members, founders), call.Peer, call.Elapsed);
    }
}
