using System.Text.Json;

namespace DinoMesh.Node.Tests.Cluster;

/// <summary>One row of <c>dino-node peers --json</c>.</summary>
public sealed record PeerEntry(
    string Id,
    string Address,
    string State,
    string Role,
    double? RttMs,
    DateTimeOffset? LastSeen,
    string Transport,
    long? AppliedVersion,
    bool Self,
    long? StoredBytes = null)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Parses the whole <c>peers --json</c> output (a JSON array).</summary>
    public static IReadOnlyList<PeerEntry> ParseList(string json) =>
        JsonSerializer.Deserialize<List<PeerEntry>>(json, Json) ?? throw new FormatException($"peers --json printed null: {json}");

    public override string ToString() => $"{Id[..Math.Min(12, Id.Length)]}@{Address}:{State}{(Self ? "(self)" : "")}/{Transport}";
}
