using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DinoMesh.Node.Control;

/// <summary>Renders control answers for people (tables) or scripts (JSON).</summary>
public static class ControlOutput
{
    private static readonly string[] PeerColumns = ["ID", "ADDRESS", "STATE", "ROLE", "RTT", "LAST SEEN", "TRANSPORT", "VERSION", "STORED"];

    public static string Render(string command, JsonElement result, bool asJson)
    {
        if (asJson) return result.GetRawText();
        return command switch
        {
            "peers" => PeersTable(result.Deserialize<List<PeerRow>>(ControlProtocol.Json) ?? []),
            "status" => StatusText(result.Deserialize<NodeStatus>(ControlProtocol.Json)!),
            "token" => result.GetProperty("token").GetString() ?? "",
            "leave" => "left the cluster; the node is stopping",
            _ => result.GetRawText(),
        };
    }

    private static string PeersTable(List<PeerRow> rows)
    {
        var table = new List<string[]> { PeerColumns };
        var now = DateTimeOffset.UtcNow;
        foreach (var r in rows)
        {
            table.Add([
                r.Id[..Math.Min(12, r.Id.Length)] + (r.Self ? " *" : ""),
                r.Address,
                r.State,
                r.Role,
                r.RttMs is { } rtt ? rtt.ToString("F1", CultureInfo.InvariantCulture) + " ms" : "-",
                r.LastSeen is { } seen ? Ago(now - seen) : "never",
                r.Transport,
                r.AppliedVersion?.ToString(CultureInfo.InvariantCulture) ?? "-",
                r.StoredBytes is { } stored ? Mib(stored) : "-",
            ]);
        }
        var widths = Enumerable.Range(0, table[0].Length).Select(c => table.Max(row => row[c].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in table) text.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        return text.ToString().TrimEnd();
    }

    private static string Ago(TimeSpan age) => age.TotalSeconds < 1 ? "now"
        : age.TotalMinutes < 1 ? $"{age.TotalSeconds:F0}s ago"
        : age.TotalHours < 1 ? $"{age.TotalMinutes:F0}m ago"
        : $"{age.TotalHours:F0}h ago";

    private static string StatusText(NodeStatus s) => string.Join('\n',
        $"node       {s.PeerId[..12]}",
        $"cluster    {s.ClusterId?[..12] ?? "-"}",
        $"listening  {s.Listen ?? "-"}",
        $"mount      {s.MountPoint}",
        $"data       {s.DataDirectory}",
        $"metadata   version {s.AppliedVersion}, {s.Inodes} inodes",
        $"quorum     {s.Quorum}",
        $"peers      {s.PeersAlive} alive of {s.PeersTotal}",
        $"free       {s.ChunkBytesFree / (1024 * 1024)} MiB for chunks",
        $"uptime     {s.Uptime:d\\.hh\\:mm\\:ss}",
        ChunkLines(s.Chunks));

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("F1", CultureInfo.InvariantCulture) + " MiB";

    private static string ChunkLines(DinoMesh.Cluster.Chunks.ChunkStatus? c) => c is null ? "chunks     -" : string.Join('\n',
        $"chunks     {c.PlacementChunks} held for placement ({Mib(c.PlacementBytes)}), {c.CachedChunks} cached ({Mib(c.CachedBytes)} of {Mib(c.CacheLimitBytes)}), {c.UnreferencedChunks} unreferenced ({Mib(c.UnreferencedBytes)}, deleted after {c.GcGraceSeconds:F0} s)",
        $"replicas   {c.Replicas} over {c.LiveMembers} live members; {c.Missing} under-replicated here, repair queue {c.RepairQueue} ({c.Repaired} repaired)",
        $"collected  {c.Collected} chunks ({Mib(c.CollectedBytes)}), evicted {c.Evicted} ({Mib(c.EvictedBytes)})");
}
