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
}
