using DinoMesh.Core.Identity;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Wire;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Transport.Join;

/// <summary>
/// Server side of <see cref="ProtocolIds.Join"/>: checks the applicant's proof of the join secret (constant time,
/// bound to its TLS identity), then lets the node admit it, and answers with the member list and this member's own
/// proof of the secret. Register with <see cref="PeerTransport.RegisterJoin"/>.
/// </summary>
public sealed class JoinGate
{
    /// <summary>Bound on a join request (cluster id, a MAC and an address).</summary>
    public const int MaxRequestBytes = 1024;

    private readonly JoinToken _token;
    private readonly PeerId _self;
    private readonly JoinAdmitter _admit;
    private readonly ILogger _log;

    public JoinGate(JoinToken token, PeerId self, JoinAdmitter admit, ILoggerFactory loggerFactory)
    {
        _token = token;
        _self = self;
        _admit = admit;
        _log = loggerFactory.CreateLogger("DinoMesh.Transport.Join");
    }

    internal async ValueTask<byte[]> HandleAsync(PeerContext peer, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        JoinRequest request;
        try
        {
            request = JoinRequest.Parser.ParseFrom(body.Span);
        }
        catch (InvalidProtocolBufferException)
        {
            throw Refuse(peer, CallFailure.BadRequest, "undecodable join request");
        }
        // Both checks run regardless, so timing does not say which one failed.
        var sameCluster = request.ClusterId.Length == JoinToken.ClusterIdSize &
            System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(request.ClusterId.Span, _token.ClusterId);
        var proofOk = request.Proof.Length == 32 & _token.VerifyJoinerProof(request.Proof.Span, peer.Peer);
        if (!(sameCluster & proofOk)) throw Refuse(peer, CallFailure.Refused, "invalid join credential");
        if (!IsHostPort(request.Advertise)) throw Refuse(peer, CallFailure.BadRequest, "advertised address is not host:port");

        var decision = await _admit(new JoinApplicant(peer.Peer, request.Advertise, peer.RemoteEndPoint), ct);
        if (!decision.Accepted) throw Refuse(peer, CallFailure.Refused, "join refused: " + decision.Reason);
        _log.LogInformation("admitted {Peer} ({Advertise}) to cluster {Cluster}", peer.Peer.Hex, request.Advertise, _token.ClusterIdHex);

        var response = new JoinResponse
        {
            ClusterId = ByteString.CopyFrom(_token.ClusterId),
            MemberProof = ByteString.CopyFrom(_token.MemberProof(_self, peer.Peer)),
        };
        response.Members.AddRange(decision.Members.Select(m => new ClusterMember { PeerId = m.Peer.Hex, Address = m.Address }));
        response.Founders.AddRange(decision.Founders.Select(f => f.Hex));
        return response.ToByteArray();
    }

    private PeerCallException Refuse(PeerContext peer, CallFailure failure, string reason)
    {
        _log.LogWarning("join from {Peer} ({Remote}) refused: {Reason}", peer.Peer.Hex, peer.RemoteEndPoint, reason);
        return new PeerCallException(failure, reason);
    }

    internal static bool IsHostPort(string text) =>
        text.Length is > 0 and <= 261 && Uri.TryCreate("https://" + text, UriKind.Absolute, out var uri) && !uri.IsDefaultPort && uri.PathAndQuery == "/";
}
