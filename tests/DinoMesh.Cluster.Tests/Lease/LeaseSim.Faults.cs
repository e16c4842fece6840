using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

// Faults and the checks made once they are healed.
internal sealed partial class LeaseSim
{
    /// <summary>Cuts the network: node i is on side sides[i] (nodes past the array's end stay on side 0).</summary>
    public void Partition(params int[] sides)
    {
        for (var i = 0; i < Nodes.Count; i++) Nodes[i].Side = i < sides.Length ? sides[i] : 0;
    }

    /// <summary>Random two-sided cut.</summary>
    public void RandomPartition()
    {
        foreach (var node in Nodes) node.Side = Random.Next(2);
    }

    public void Heal()
    {
        foreach (var node in Nodes) node.Side = 0;
        _cutLinks.Clear();
    }

    /// <summary>Every node's lease state on one line, for a failure message.</summary>
    public string Describe() => string.Join("; ", Nodes.Select(n =>
        $"{n}: {(n.Up ? "" : "down ")}{n.Machine.Role} term {n.Machine.Term} holder {n.Machine.Holder.Short} commit {n.Machine.Commit} last {n.Machine.LastVersion}/{n.Machine.LastTerm} applied {n.Applied}"));

    /// <summary>Cuts the link between two nodes, both ways, while each still reaches everyone else.</summary>
    public void CutLink(LeaseSimNode a, LeaseSimNode b)
    {
        _cutLinks.Add((a.Index, b.Index));
        _cutLinks.Add((b.Index, a.Index));
    }

    private readonly HashSet<(int From, int To)> _cutLinks = [];

    private bool Linked(LeaseSimNode from, LeaseSimNode to) => from.Side == to.Side && !_cutLinks.Contains((from.Index, to.Index));

    /// <summary>
    /// kill -9 (the log survives in the page cache; the machine's kernel refuses connects to the dead process's port) or,
    /// when <paramref name="powerLoss"/>, a power cut (the log keeps only what was synced; the machine answers nothing).
    /// <paramref name="machineGone"/> without a power cut: the process dies and its machine drops off the network (a
    /// kernel panic, a pulled cable), so nothing refuses a connect, but the log is kept.
    /// </summary>
    public void Crash(LeaseSimNode node, bool powerLoss = false, bool machineGone = false)
    {
        if (!node.Up) return;
        node.Up = false;
        // The preparation of an assembled snapshot dies with the process.
        node.HeldVerdicts.Clear();
        node.MachineDown = powerLoss || machineGone;
        if (powerLoss)
        {
            node.Log.LoseUnsynced();
            // Answers go before the fsync: what was acknowledged and not synced may be gone (the holder learns so from the life).
            node.Acknowledged = default;
        }
    }

    public void Restart(LeaseSimNode node)
    {
        if (node.Up) return;
        node.Up = true;
        node.MachineDown = false;
        node.Stalled = 0;
        node.ResetApplied();
        // A real node replays its log up to the commit it last wrote down.
        foreach (var entry in node.Log.Read(node.Applied + 1, int.MaxValue, long.MaxValue))
        {
            if (entry.Version > Math.Min(node.Durable.Commit, node.Log.LastVersion)) break;
            node.Apply(entry, ConfigOf);
            CheckCommitted(node, entry);
        }
        Start(node);
    }

    /// <summary>
    /// The node's clock jumps forward by <paramref name="ticks"/> ticks at once (NTP step, VM resumed): every timer that
    /// falls inside the jump fires now, before any message of that time could arrive.
    /// </summary>
    public void JumpClock(LeaseSimNode node, int ticks)
    {
        if (!node.Up || node.Stalled > 0) return;
        for (var i = 0; i < ticks; i++) node.Machine.Tick();
        Process(node);
    }

    /// <summary>The node's timers and message handling stop for a while (GC pause, CPU starvation, SIGSTOP).</summary>
    public void Stall(LeaseSimNode node, int ticks) => node.Stalled = ticks;

    /// <summary>Folds the node's applied entries into a snapshot, so a follower far behind needs a snapshot transfer.</summary>
    public void Compact(LeaseSimNode node)
    {
        if (node.Up && node.Applied > node.Log.Snapshot.Version) node.Log.Compact(node.Applied, node.Snapshot());
    }

    /// <summary>The holder swaps one voter for a learner (remove, then add: one member at a time), if it may now.</summary>
    public bool ChangeVoters()
    {
        var holder = Holders.OrderByDescending(h => h.Machine.Term).FirstOrDefault();
        if (holder is null || !holder.Machine.CommittedInCurrentTerm || holder.Machine.ConfigChangePending) return false;
        var voters = holder.Machine.Voters.Voters.ToList();
        var learners = Nodes.Where(n => !voters.Contains(n.Id)).ToList();
        if (voters.Count > 3 || learners.Count == 0)
        {
            var remove = voters.Where(v => v != holder.Id).OrderBy(_ => Random.Next()).First();
            voters.Remove(remove);
        }
        else
        {
            voters.Add(learners[Random.Next(learners.Count)].Id);
        }
        var payload = new byte[] { 0xC0 }.Concat(voters.Select(v => (byte)_byId[v].Index)).ToArray();
        var version = holder.Machine.Propose([payload]);
        Process(holder);
        return version > 0;
    }

    /// <summary>Heals everything and runs until quiet; then every node holds the same state and every acknowledged entry.</summary>
    public void HealAndCheckConverged(long settleMs = 30_000)
    {
        Heal();
        foreach (var node in Nodes) node.Stalled = 0;
        foreach (var node in Nodes.Where(n => !n.Up).ToList()) Restart(node);
        var saved = Faults;
        Faults = new LeaseFaults { MaxDelayMs = 5 };
        // One more entry after healing proves liveness and commits whatever earlier terms left.
        long proposed = -1;
        for (var waited = 0L; waited < settleMs && proposed <= 0; waited += 500)
        {
            Run(500);
            proposed = ProposeAnywhere();
        }
        if (proposed <= 0)
        {
            var states = string.Join("; ", Nodes.Select(n => $"{n}={n.Id.Short}: {(n.Up ? "" : "down ")}{n.Machine.Role} term {n.Machine.Term} vote {n.Machine.Vote.Short} holder {n.Machine.Holder.Short} commit {n.Machine.Commit} last {n.Machine.LastVersion}/{n.Machine.LastTerm} voters {string.Join(",", n.Machine.Voters.Voters.Select(v => v.Short))}"));
            throw new Xunit.Sdk.XunitException(Fail($"no holder could take a proposal after healing [{states}]"));
        }
        for (var waited = 0L; waited < settleMs; waited += 500)
        {
            Run(500);
            AcknowledgeCommitted();
            if (Nodes.All(n => n.Applied == Nodes[0].Applied) && Nodes[0].Applied >= proposed) break;
        }
        Faults = saved;
        var reference = Nodes.MaxBy(n => n.Applied)!;
        foreach (var node in Nodes)
        {
            if (node.Applied != reference.Applied || !node.StateHash.SequenceEqual(reference.StateHash))
            {
                var states = string.Join("; ", Nodes.Select(n => $"{n}={n.Id.Short}: {(n.Up ? "" : "down ")}{n.Machine.Role} term {n.Machine.Term} commit {n.Machine.Commit} last {n.Machine.LastVersion} applied {n.Applied} snap {n.Log.Snapshot.Version}"))
                    + " | holder's progress: " + string.Join(" ", Holders.Select(h => h.Machine.DescribeProgress()));
                throw new Xunit.Sdk.XunitException(Fail($"after healing {node} is at {node.Applied}, {reference} at {reference.Applied} (hashes {(node.StateHash.SequenceEqual(reference.StateHash) ? "equal" : "differ")}) [{states}]"));
            }
        }
        foreach (var (version, hash) in Acknowledged)
        {
            if (!_committed.TryGetValue(version, out var committed) || committed.Hash != hash)
            {
                throw new Xunit.Sdk.XunitException(Fail($"acknowledged entry {version} is not in the committed log"));
            }
        }
    }
}
