using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

// What the nodes send, counted for tests of message rates (heartbeats to voters and to learners).
internal sealed partial class LeaseSim
{
    /// <summary>Appends sent (counted before any loss) from one node to another.</summary>
    public Dictionary<(PeerId From, PeerId To), int> AppendsSent { get; } = [];

    private LeaseEnvelope Counted(LeaseSimNode from, LeaseEnvelope envelope)
    {
        if (envelope.Message is Append) AppendsSent[(from.Id, envelope.Peer)] = AppendsSent.GetValueOrDefault((from.Id, envelope.Peer)) + 1;
        return envelope;
    }
}
