using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

// What a driver's probe of the holder finds (LeaseReady.ProbeHolder), as a kernel would answer a connect: refused when
// the holder's process is gone but its machine is up and reachable (kill -9), or when a firewall that rejects (instead
// of dropping) stands between the two; otherwise a connection or a timeout, which is no evidence.
internal sealed partial class LeaseSim
{
    private readonly PriorityQueue<(int From, PeerId Holder, long Term), (long At, long Order)> _probes = new();

    // Probe timing draws from its own generator, so schedules where no probe matters replay as they did before probes.
    private Random? _probeRandom;

    /// <summary>Probes the machines asked for, and how many of them were refused (reported as HolderGone).</summary>
    public int ProbesMade { get; private set; }

    public int ProbesRefused { get; private set; }

    /// <summary>HolderGone reports delivered that the machine acted on (it then counted the lease as ended).</summary>
    public int HolderGoneActedOn { get; private set; }

    private void StartProbe(LeaseSimNode node, (PeerId Holder, long Term) probe)
    {
        ProbesMade++;
        // A connect's answer (a refusal) comes back within a round trip.
        _probeRandom ??= new Random(Seed ^ 0x5eed);
        _probes.Enqueue((node.Index, probe.Holder, probe.Term), (NowMs + _probeRandom.Next(1, Faults.MaxDelayMs + 1), _order++));
    }

    private void DeliverDueProbes(long until)
    {
        while (_probes.TryPeek(out _, out var at) && at.At <= until)
        {
            var (from, holder, term) = _probes.Dequeue();
            NowMs = Math.Max(NowMs, at.At);
            var node = Nodes[from];
            if (!node.Up || node.Stalled > 0 || !_byId.TryGetValue(holder, out var target)) continue;
            if (!Refused(node, target)) continue;
            ProbesRefused++;
            GiveHolderGone(node, holder, term);
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

    /// <summary>Delivers a HolderGone report to <paramref name="node"/>, true or not: what a wrong probe would say.</summary>
    public void GiveHolderGone(LeaseSimNode node, PeerId holder, long term)
    {
        if (!node.Up || node.Stalled > 0) return;
        var before = node.Machine.HolderGoneSeen;
        node.Machine.HolderGone(holder, term);
        if (!before && node.Machine.HolderGoneSeen) HolderGoneActedOn++;
        Process(node);
    }

    /// <summary>A false "your holder is gone" to <paramref name="node"/> about the holder it follows now.</summary>
    public void FalseHolderGone(LeaseSimNode node) => GiveHolderGone(node, node.Machine.Holder, node.Machine.Term);
}
