using System.Text.Json;
using DinoMesh.Load.Platform;

namespace DinoMesh.Load.Cluster;

/// <summary>One row of <c>dino-node peers --json</c>, as far as the load runner needs it.</summary>
public sealed record PeerView(string Id, string Address, string State, string Role, bool Self)
{
    public bool IsAlive => State == "alive";

    /// <summary>True for the member that holds the metadata lease (a role the shared tree adds; absent before).</summary>
    public bool IsLeaseHolder => Role.Equals("holder", StringComparison.OrdinalIgnoreCase)
        || Role.Equals("leader", StringComparison.OrdinalIgnoreCase)
        || Role.Equals("lease-holder", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Asks a running node through its own command line (<c>dino-node peers|status|token --data-dir D</c>), the same
/// interface an operator uses, so the load runner depends on no DinoMesh library. Every call has a deadline.
/// </summary>
public sealed class NodeCli(string dinoDll)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<IReadOnlyList<PeerView>> PeersAsync(string dataDir, CancellationToken cancellationToken)
    {
        var output = await RunAsync(["peers", "--json"], dataDir, cancellationToken);
        return JsonSerializer.Deserialize<List<PeerView>>(output, Json) ?? [];
    }

    public async Task<JsonElement> StatusAsync(string dataDir, CancellationToken cancellationToken)
    {
        var output = await RunAsync(["status", "--json"], dataDir, cancellationToken);
        using var document = JsonDocument.Parse(output);
        return document.RootElement.Clone();
    }

    /// <summary>The cluster's join credential (the control socket is owner-only, which is why this works only for us).</summary>
    public async Task<string> TokenAsync(string dataDir, CancellationToken cancellationToken) =>
        (await RunAsync(["token"], dataDir, cancellationToken)).Trim();

    private async Task<string> RunAsync(string[] command, string dataDir, CancellationToken cancellationToken)
    {
        var (fileName, prefix) = NodeCommand.For(dinoDll);
        var outcome = await ExternalProcess.RunAsync(fileName, [.. prefix, .. command, "--data-dir", dataDir], Timeout, cancellationToken);
        if (!outcome.Succeeded)
        {
            var why = outcome.TimedOut ? "timed out" : $"exit {outcome.ExitCode}: {outcome.StandardError.Trim()}";
            throw new InvalidOperationException($"dino-node {string.Join(' ', command)} --data-dir {dataDir}: {why}");
        }
        return outcome.StandardOutput;
    }

    /// <summary>
    /// The lease holder's PeerId as a node reports it: a <c>peers</c> row whose role is the holder, or a holder field
    /// of <c>status</c>. Null when neither names one (no lease holder exists yet).
    /// </summary>
    public static string? LeaseHolder(IReadOnlyList<PeerView> peers, JsonElement? status)
    {
        if (peers.FirstOrDefault(p => p.IsLeaseHolder) is { } row) return row.Id;
        if (status is not { ValueKind: JsonValueKind.Object } s) return null;
        foreach (var name in new[] { "leaseHolder", "holder", "leader" })
        {
            if (!s.TryGetProperty(name, out var value)) continue;
            if (value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } id) return id;
            if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("id", out var inner) && inner.GetString() is { Length: > 0 } nested) return nested;
        }
        return null;
    }
}
