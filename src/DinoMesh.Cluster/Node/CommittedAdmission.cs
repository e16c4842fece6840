using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Node;

/// <summary>A newcomer's admission as committed to the metadata log.</summary>
/// <param name="Version">The log version of its <c>AdmitMember</c> entry.</param>
/// <param name="Members">The members the log names at that version or later (every one admitted up to it).</param>
public sealed record CommittedAdmission(long Version, IReadOnlyList<(PeerId Peer, string Address)> Members);
