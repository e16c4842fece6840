using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

// What a driver's probe of a silent peer finds (LeaseReady.Probes), as a kernel would answer a connect: refused when
// the peer's process is gone but its machine is up and reachable (kill -9), or when a firewall that rejects (instead
// of dropping) stands between the two; otherwise a connection or a timeout, which is no evidence.
internal sealed partial class LeaseSim
{
    private readonly PriorityQueue<(int From, PeerId Peer, long Term), (long At, long Order)> _probes = new();

    // Probe timing draws from its own generator, so schedules where no probe matters replay as they did before probes.
    private Random? _probeRandom;

    /// <summary>Probes the machines asked for, and how many of them were refused (reported as HolderGone).</summary>
    public int ProbesMade { get; private set; }

    public int ProbesRefused { get; private set; }

    /// <summary>HolderGone reports delivered that a follower acted on (it then counted the lease as ended).</summary>
    public int HolderGoneActedOn { get; private set; }

    /// <summary>Holders that stepped down on VoterGone reports (too few voters left whose processes are not gone).</summary>
    public int StepDownsOnEvidence { get; private set; }

    private void StartProbe(LeaseSimNode node, (PeerId Peer, long Term) probe)
    {
        ProbesMade++;
        // A connect's answer (a refusal) comes back within a round trip.
        _probeRandom ??= new Random(Seed ^ 0x5eed);
        _probes.Enqueue((node.Index, probe.Peer, probe.Term), (NowMs + _probeRandom.Next(1, Faults.MaxDelayMs + 1), _order++));
    }

    private void DeliverDueProbes(long until)
    {
        while (_probes.TryPeek(out _, out var at) && at.At <= until)
        {
            var (from, peer, term) = _probes.Dequeue();
            NowMs = Math.Max(NowMs, at.At);
            var node = Nodes[from];
            if (!node.Up || node.Stalled > 0 || !_byId.TryGetValue(peer, out var target)) continue;
            if (!Refused(node, target)) continue;
            ProbesRefused++;
            GivePeerGone(node, peer, term);
        }
    }

    /// <summary>
    /// A connect from <paramref name="from"/> to <paramref name="target"/>'s port is refused: its process is down on a
    /// machine that is up and reachable, or a rejecting firewall cuts the two apart (it refuses for a live process too).
    /// </summary>
    private bool Refused(LeaseSimNode from, LeaseSimNode target)
    {
        if (!Linked(from, target)) return Faults.RejectingCuts && !target.MachineDown;
        return !target.Up && !target.MachineDown;
    }

    /// <summary>Delivers a PeerGone report to <paramref name="node"/>, true or not: what a wrong probe would say.</summary>
    public void GivePeerGone(LeaseSimNode node, PeerId peer, long term)
    {
        if (!node.Up || node.Stalled > 0) return;
        var before = (node.Machine.HolderGoneSeen, node.Machine.IsHolder);
        node.Machine.PeerGone(peer, term);
        if (!before.HolderGoneSeen && node.Machine.HolderGoneSeen) HolderGoneActedOn++;
        if (before.IsHolder && !node.Machine.IsHolder) StepDownsOnEvidence++;
        Process(node);
    }

    /// <summary>A false "your holder is gone" to <paramref name="node"/> about the holder it follows now.</summary>
    public void FalseHolderGone(LeaseSimNode node) => GivePeerGone(node, node.Machine.Holder, node.Machine.Term);

    /// <summary>A false "this voter is gone" to the holder <paramref name="holder"/>.</summary>
    public void FalseVoterGone(LeaseSimNode holder, LeaseSimNode voter) => GivePeerGone(holder, voter.Id, holder.Machine.Term);
}
