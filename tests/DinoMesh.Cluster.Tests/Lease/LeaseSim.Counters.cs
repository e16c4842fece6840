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

    /// <summary>Ticks the machine said were not due (only counted); each was checked to change nothing visible.</summary>
    public int QuietTicks { get; private set; }

    /// <summary>
    /// One tick, checked against <see cref="LeaseLog.TicksUntilDue"/>: a tick the machine said was not yet due must
    /// leave nothing to do (no message, no log or hard-state change) and keep role, term, holder and transfer as they
    /// were. A driver that sleeps through such ticks relies on it.
    /// </summary>
    private void TickChecked(LeaseSimNode node)
    {
        var machine = node.Machine;
        var quiet = !machine.HasReady && machine.TicksUntilDue > 1;
        var before = (machine.Role, machine.Term, machine.Holder, machine.Transferring, machine.Commit);
        machine.Tick();
        if (!quiet) return;
        QuietTicks++;
        if (machine.HasReady || (machine.Role, machine.Term, machine.Holder, machine.Transferring, machine.Commit) != before)
        {
            throw new Xunit.Sdk.XunitException(Fail($"node {node.Index} acted on a tick it said was not due"));
        }
    }
}
