using System.Text.Json;
using System.Text.Json.Serialization;
using DinoMesh.Node.Web;

namespace DinoMesh.Node.Control;

/// <summary>
/// The JSON of the control socket and the status page, written at compile time (System.Text.Json source generation):
/// nothing is serialized by reflection, so the node runs as a Native AOT executable. Web defaults (camelCase names),
/// nulls left out unless a property says otherwise, one line per document.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = false)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
[JsonSerializable(typeof(List<PeerRow>))]
[JsonSerializable(typeof(NodeStatus))]
[JsonSerializable(typeof(StatusPage))]
[JsonSerializable(typeof(TokenAnswer))]
[JsonSerializable(typeof(StateHashAnswer))]
[JsonSerializable(typeof(RemovedAnswer))]
[JsonSerializable(typeof(LeftAnswer))]
[JsonSerializable(typeof(object))]
public sealed partial class ControlJson : JsonSerializerContext;

/// <summary>`dino-node token`: the join token, the cluster id and a ready-to-paste join command.</summary>
public sealed record TokenAnswer(string Token, string Cluster, string Join);

/// <summary>`dino-node statehash`: the metadata state's hash at the version it was taken.</summary>
public sealed record StateHashAnswer(long Version, string StateHash);

/// <summary>`dino-node remove PEER`: the id of the member removed.</summary>
public sealed record RemovedAnswer(string Removed);

/// <summary>`dino-node leave`: the node has left (it stops next).</summary>
public sealed record LeftAnswer(bool Left);
