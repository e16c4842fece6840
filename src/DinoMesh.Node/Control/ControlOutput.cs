using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DinoMesh.Node.Control;

/// <summary>Renders control answers for people (tables, readable sizes and durations) or scripts (JSON).</summary>
public static class ControlOutput
{
    public static readonly string[] PeerColumns = ["ID", "ADDRESS", "STATE", "ROLE", "RTT", "LAST SEEN", "TRANSPORT", "VERSION", "STORED"];

    public static string Render(string command, JsonElement result, bool asJson)
    {
        if (asJson) return result.GetRawText();
        return command switch
        {
            "peers" => PeersTable(result.Deserialize(ControlJson.Default.ListPeerRow) ?? []),
            "status" => StatusText(result.Deserialize(ControlJson.Default.NodeStatus)!),
            "token" => result.GetProperty("token").GetString() ?? "",
            "token-command" => result.GetProperty("join").GetString() ?? "",
            "leave" => "left the cluster; the node is stopping",
            "remove" => $"removed {result.GetProperty("removed").GetString()?[..12]}: every member refuses it from now on",
            "statehash" => $"{result.GetProperty("stateHash").GetString()} at version {result.GetProperty("version").GetInt64()}",
            _ => result.GetRawText(),
        };
    }

    /// <summary>The cells of one peers row, in <see cref="PeerColumns"/> order.</summary>
    public static string[] PeerCells(PeerRow r, DateTimeOffset now) =>
    [
        r.Id[..Math.Min(12, r.Id.Length)] + (r.Self ? " *" : ""),
        r.Address,
        r.State,
        r.Role,
        r.RttMs is { } rtt ? HumanFormat.RoundTrip(rtt) : "-",
        r.LastSeen is { } seen ? HumanFormat.Ago(now - seen) : "never",
        r.Transport,
        r.AppliedVersion?.ToString(CultureInfo.InvariantCulture) ?? "-",
        r.StoredBytes is { } stored ? HumanFormat.Bytes(stored) : "-",
    ];

    private static string PeersTable(List<PeerRow> rows)
    {
        var now = DateTimeOffset.UtcNow;
        var table = new List<string[]> { PeerColumns };
        table.AddRange(rows.Select(r => PeerCells(r, now)));
        var widths = Enumerable.Range(0, table[0].Length).Select(c => table.Max(row => row[c].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in table) text.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        return text.ToString().TrimEnd();
    }

    private static string StatusText(NodeStatus s) => string.Join('\n',
        $"node       {s.PeerId[..12]}",
        $"cluster    {s.ClusterId?[..12] ?? "-"}",
        $"listening  {s.Listen ?? "-"}",
        $"mount      {s.MountPoint}",
        $"data       {s.DataDirectory}",
        $"stored     {HumanFormat.Bytes(s.StoredBytes)} in the volume, {HumanFormat.Bytes(s.ChunkBytesFree)} free on the data directory's disk",
        $"metadata   applied version {s.AppliedVersion} of {s.CommitVersion} committed ({s.LogVersion} in the log), {s.Inodes} inodes",
        $"lease      {s.Role ?? "-"}, term {s.Term}, holder {(s.Holder is { Length: >= 12 } h ? h[..12] : "none known")}",
        $"quorum     {s.Quorum}",
        HoldBackLine(s.HoldBack),
        $"peers      {s.PeersAlive} alive of {s.PeersTotal}",
        $"uptime     {HumanFormat.Duration(s.Uptime)}",
        $"version    dino-node {s.Version ?? "?"} on {s.Runtime ?? "?"}",
        $"metrics    {(s.Metrics is { } m ? $"http://{m}/metrics, status page http://{m}/" : "off (start with --metrics 127.0.0.1:9464)")}",
        ChunkLines(s.Chunks));

    // The holder's hold-back policies (LeaseHoldBack): each on or off, how often it switched, and what it judged by.
    private static string HoldBackLine(DinoMesh.Cluster.Lease.LeaseHoldBack? h) => h is null ? "holdback   -" :
        $"holdback   notices {(h.HoldingNotices ? "held" : "sent at once")} (switched {h.NoticePolicyFlips} times; {h.NoticesCarried} carried, {h.NoticesSentAlone} alone: {h.NoticesAloneAwaited} awaited, {h.NoticesAloneDeferred} deferred), " +
        $"appends {(h.DeferringAppends ? "deferred" : "sent at once")} (switched {h.DeferralPolicyFlips} times; {h.DeferralsMerged} merged, {h.DeferralsAlone} alone; {h.QuickVotersDemoted} quick voters demoted)";

    private static string ChunkLines(DinoMesh.Cluster.Chunks.ChunkStatus? c) => c is null ? "chunks     -" : string.Join('\n',
        $"chunks     {c.PlacementChunks} held for placement ({HumanFormat.Bytes(c.PlacementBytes)}), {c.CachedChunks} cached ({HumanFormat.Bytes(c.CachedBytes)} of {HumanFormat.Bytes(c.CacheLimitBytes)}) of which {HumanFormat.Bytes(c.EvictableBytes)} held elsewhere counts as free, {c.UnreferencedChunks} unreferenced ({HumanFormat.Bytes(c.UnreferencedBytes)}, deleted after {c.GcGraceSeconds:F0} s)",
        $"replicas   {c.Replicas} over {c.LiveMembers} live members; {c.Missing} under-replicated here, repair queue {c.RepairQueue} ({c.Repaired} repaired)",
        $"collected  {c.Collected} chunks ({HumanFormat.Bytes(c.CollectedBytes)}), evicted {c.Evicted} ({HumanFormat.Bytes(c.EvictedBytes)}), {c.EvictedForSpace} of them for space ({HumanFormat.Bytes(c.EvictedForSpaceBytes)}; reserve {(c.FreeReserveBytes is { } r ? HumanFormat.Bytes(r) : "off")})");
}
