using System.Diagnostics;
using System.Diagnostics.Metrics;
using DinoMesh.Core.Identity;

namespace DinoMesh.Transport;

/// <summary>
/// The transport's instruments: message bytes sent to and received from each peer (by its short PeerId, so the number
/// of series is bounded by the cluster's size) and protocol. Counted at unary calls and handlers, frame payloads only.
/// Write-only sinks that cost one enabled-check when nobody listens; the meter is process-wide by .NET's design.
/// </summary>
internal static class TransportMetrics
{
    public const string MeterName = "DinoMesh.Transport";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Sent = Meter.CreateCounter<long>("dinomesh.transport.sent", "By", "Message bytes sent to a peer, by peer and protocol");
    private static readonly Counter<long> Received = Meter.CreateCounter<long>("dinomesh.transport.received", "By", "Message bytes received from a peer, by peer and protocol");

    private static readonly Counter<long> SentLent = Meter.CreateCounter<long>("dinomesh.transport.sent_lent", "By",
        "Answer bytes sent straight from a lent pooled buffer, without a copy, by peer and protocol");

    /// <summary>
    /// One exchange with <paramref name="peer"/>: <paramref name="sent"/> bytes out (<paramref name="lent"/> of them
    /// written from a lent buffer as it lay), <paramref name="received"/> bytes in.
    /// </summary>
    public static void Exchanged(PeerId peer, string protocol, long sent, long received, long lent = 0)
    {
        if (!Sent.Enabled && !SentLent.Enabled) return;
        var tags = new TagList { { "peer", peer.Short }, { "protocol", protocol } };
        Sent.Add(sent, tags);
        Received.Add(received, tags);
        if (lent > 0) SentLent.Add(lent, tags);
    }
}
