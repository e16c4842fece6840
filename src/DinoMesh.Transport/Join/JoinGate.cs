using DinoMesh.Core.Identity;
using DinoMesh.Transport.Identity;
using DinoMesh.Transport.Messages;
using DinoMesh.Transport.Wire;
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

    /// <summary>Bound on a join response at the joiner (the member list of a large cluster).</summary>
    public const int MaxResponseBytes = 1024 * 1024;

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
        if (!PeerMessageCodec.TryDeserialize<JoinRequest>(body, MaxRequestBytes, out var request, out var error))
        {
            throw new PeerCallException(CallFailure.BadRequest, "undecodable join request: " + error);
        }
        // Both checks run regardless, so timing does not say which one failed.
        var sameCluster = request.ClusterId.Length == JoinToken.ClusterIdSize &
            System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(request.ClusterId, _token.ClusterId);
        var proofOk = request.Proof.Length == 32 & _token.VerifyJoinerProof(request.Proof, peer.Peer);
        // Refusals are logged once, rate-limited, by the transport (it sees every failed request); not here as well.
        if (!(sameCluster & proofOk)) throw new PeerCallException(CallFailure.Refused, "invalid join credential");
        if (!IsHostPort(request.Advertise)) throw new PeerCallException(CallFailure.BadRequest, "advertised address is not host:port");

        var decision = await _admit(new JoinApplicant(peer.Peer, request.Advertise, peer.RemoteEndPoint), ct);
        if (!decision.Accepted) throw new PeerCallException(CallFailure.Refused, "join refused: " + decision.Reason);
        // The admitter (the node) logs the admission; one line per event.
        _log.LogDebug("join of {Peer} ({Advertise}) to cluster {Cluster} accepted", peer.Peer.Hex, request.Advertise, _token.ClusterIdHex);

        var response = new JoinResponse(
            _token.ClusterId.ToArray(),
            _token.MemberProof(_self, peer.Peer),
            [.. decision.Members.Select(m => new ClusterMember(WirePeerId.ToBytes(m.Peer), m.Address))],
            [.. decision.Founders.Select(WirePeerId.ToBytes)],
            decision.AdmittedAt);
        return PeerMessageCodec.Serialize(response);
    }

    internal static bool IsHostPort(string text) =>
        text.Length is > 0 and <= 261 && Uri.TryCreate("https://" + text, UriKind.Absolute, out var uri) && !uri.IsDefaultPort && uri.PathAndQuery == "/";
}
