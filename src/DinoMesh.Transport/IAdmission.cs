using DinoMesh.Core.Identity;

namespace DinoMesh.Transport;

/// <summary>
/// Who may talk to this node: the node answers from its committed membership. Called for every incoming request
/// (so an admission or removal takes effect on the next request, even on an open connection) and, on the client
/// side, when a call does not name the peer it expects. Must be fast and thread-safe.
/// </summary>
public interface IAdmission
{
    bool IsAdmitted(PeerId peer);

    /// <summary>
    /// The check for a peer that opens a connection or request presenting <paramref name="presentedVersion"/>, the log
    /// version at which it says it was admitted (<see cref="AdmissionHint"/>; 0 when it presents none). A node whose
    /// log has not reached that version yet may wait, bounded, for it to get there before it decides, so a member
    /// that has not heard of a newcomer yet does not refuse it. Never blocks a thread; the default does not wait.
    /// </summary>
    ValueTask<AdmissionVerdict> CheckAsync(PeerId peer, long presentedVersion, CancellationToken ct) =>
        ValueTask.FromResult(IsAdmitted(peer) ? AdmissionVerdict.Yes : AdmissionVerdict.No(AdmissionVerdict.NotAdmitted));

    /// <summary>
    /// True when an admitted member is known at <paramref name="address"/> (the IP of its advertised address). Asked
    /// at accept, before any TLS, for every incoming connection: such a connection's handshake is counted apart from
    /// everyone else's (<c>ConnectionGate</c>), so crowds from other addresses cannot keep members out. It proves
    /// nothing about who connects (the handshake and admission still decide); it only says whose lane to wait in.
    /// Must be fast and thread-safe; the default knows no addresses.
    /// </summary>
    bool IsMemberAddress(System.Net.IPAddress address) => false;
}

/// <summary>What <see cref="IAdmission.CheckAsync"/> decided, and why not.</summary>
public readonly record struct AdmissionVerdict(bool Admitted, string Reason)
{
    /// <summary>The reason every refusal of a peer that is not a member starts with (logs and tests look for it).</summary>
    public const string NotAdmitted = "not an admitted member";

    public static AdmissionVerdict Yes => new(true, "");

    public static AdmissionVerdict No(string reason) => new(false, reason);
}
