using System.Security.Cryptography;
using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

// What a node's driver does with a Ready, on the simulated disk and network, and the invariants checked meanwhile.
internal sealed partial class LeaseSim
{
    private void Deliver(int to, PeerId from, LeaseMessage message)
    {
        var node = Nodes[to];
        if (!node.Up || node.Stalled > 0) return;   // a stalled node's socket buffer overflows: dropped
        if (!Linked(_byId[from], node)) return;
        node.Machine.Step(from, message);
        Process(node);
    }

    private void Send(LeaseSimNode from, LeaseEnvelope envelope)
    {
        if (!_byId.TryGetValue(envelope.Peer, out var to)) return;
        if (!Linked(from, to) || Random.NextDouble() < Faults.Loss) return;
        var copies = Random.NextDouble() < Faults.Duplicate ? 2 : 1;
        for (var i = 0; i < copies; i++)
        {
            _network.Enqueue((to.Index, from.Id, envelope.Message), (NowMs + Random.Next(1, Faults.MaxDelayMs + 1), _order++));
        }
    }

    /// <summary>Drains the machine's output the way the node's driver does: persist, send, apply, advance.</summary>
    public void Process(LeaseSimNode node)
    {
        for (var round = 0; node.Machine.HasReady && round < 100; round++)
        {
            var ready = node.Machine.Ready();
            if (ready.HardState is { } hs)
            {
                // Term and vote are fsynced before anything is sent; commit is advisory.
                node.Durable = hs;
            }
            if (ready.Snapshot is { } snap)
            {
                if (ready.SnapshotReplaces)
                {
                    node.Log.ReplaceWithSnapshot(snap.Version, snap.Term, snap.State);
                    Replaced++;
                }
                else node.Log.InstallSnapshot(snap.Version, snap.Term, snap.State);
                node.Install(snap.Version, snap.State);
                CheckApplied(node);
            }
            if (ready.TruncateFrom is { } from) node.Log.TruncateFrom(from);
            node.Log.Append(ready.Entries);
            if (ready.SyncLog) node.Log.Sync();
            foreach (var message in ready.Messages) Send(node, Counted(node, message));
            foreach (var peer in ready.SnapshotsToSend)
            {
                var version = node.Applied;
                var term = node.Log.TermAt(version);
                if (term < 0) continue;
                Send(node, new LeaseEnvelope(peer, new InstallSnapshot(node.Machine.Term, version, term, node.Snapshot(), [.. node.AppliedVoters.Voters])));
            }
            if (ready.CommittedTo > node.Applied)
            {
                foreach (var entry in node.Log.Read(node.Applied + 1, int.MaxValue, long.MaxValue))
                {
                    if (entry.Version > ready.CommittedTo) break;
                    node.Apply(entry, ConfigOf);
                    CheckCommitted(node, entry);
                }
            }
            node.Machine.Advance(ready);
            CheckHolder(node);
        }
        if (node.Machine.IsHolder) node.Machine.SetMembers(Nodes.Select(n => n.Id));
    }

    private void CheckHolder(LeaseSimNode node)
    {
        if (!node.Machine.IsHolder) return;
        if (_holders.TryGetValue(node.Machine.Term, out var holder) && holder != node.Id)
        {
            throw new Xunit.Sdk.XunitException(Fail($"two holders in term {node.Machine.Term}: {_byId[holder]} and {node}"));
        }
        _holders[node.Machine.Term] = node.Id;
    }

    private void CheckCommitted(LeaseSimNode node, LogEntry entry)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(entry.Payload));
        // A survivor that learns late that a lost entry was committed applies it, and later has it replaced.
        if (_lost.Contains((entry.Version, entry.Term, hash))) return;
        if (_committed.TryGetValue(entry.Version, out var known))
        {
            if (known.Term != entry.Term || known.Hash != hash)
            {
                throw new Xunit.Sdk.XunitException(Fail($"{node} applied version {entry.Version} of term {entry.Term}, but term {known.Term}'s entry was committed there"));
            }
            return;
        }
        _committed[entry.Version] = (entry.Term, hash);
    }

    private void CheckApplied(LeaseSimNode node)
    {
        // After a snapshot, the node's applied prefix must be one every other node agrees with: checked by hash at the end.
        if (node.Applied < 0) throw new Xunit.Sdk.XunitException(Fail($"{node} applied a negative version"));
    }

    /// <summary>A client's mutation at whichever node holds the lease (if any): remembered once committed there.</summary>
    public long ProposeAnywhere()
    {
        var holder = Holders.Where(h => h.Stalled == 0).OrderByDescending(h => h.Machine.Term).FirstOrDefault();
        if (holder is null) return -1;
        var payload = BitConverter.GetBytes(++_proposalCounter).Prepend((byte)0x01).ToArray();
        var version = holder.Machine.Propose([payload]);
        if (version > 0) _pending.Add((holder, version, Convert.ToHexStringLower(SHA256.HashData(payload))));
        Process(holder);
        AcknowledgeCommitted();
        return version;
    }

    private readonly List<(LeaseSimNode Holder, long Version, string Hash)> _pending = [];

    /// <summary>Committed entries a majority power loss took back: applying one later is no contradiction.</summary>
    private readonly HashSet<(long Version, long Term, string Hash)> _lost = [];

    /// <summary>Snapshots that replaced a diverged node's log and state.</summary>
    public int Replaced { get; private set; }

    /// <summary>
    /// A majority of voters lost power together: entries committed since the last fsync may be gone for good, which the
    /// durability tiers allow. What a majority of voters still holds (with the committed term) stays committed; from the
    /// first version that is not so held, the commits and acknowledgements are forgotten, and later entries at those
    /// versions are new commits. Every other invariant stands: one holder per term, equal states after healing.
    /// </summary>
    public long ForgetCommitsLostToPowerLoss(VoterSet voters)
    {
        long kept = 0;
        foreach (var version in _committed.Keys.Order())
        {
            var (term, _) = _committed[version];
            var holding = voters.Voters.Count(v => _byId[v].Log.TermAt(version) == term || _byId[v].Log.Snapshot.Version > version);
            if (holding < voters.Quorum) break;
            kept = version;
        }
        foreach (var version in _committed.Keys.Where(v => v > kept).ToList())
        {
            _lost.Add((version, _committed[version].Term, _committed[version].Hash));
            _committed.Remove(version);
        }
        Acknowledged.RemoveAll(a => a.Version > kept);
        _pending.RemoveAll(p => p.Version > kept);
        return kept;
    }

    /// <summary>A proposal is acknowledged when its holder has committed it (the syscall returns then).</summary>
    public void AcknowledgeCommitted()
    {
        foreach (var p in _pending.ToList())
        {
            if (!p.Holder.Up) continue;
            if (p.Holder.Machine.Commit >= p.Version && p.Holder.Log.Snapshot.Version < p.Version && p.Holder.Log.TermAt(p.Version) >= 0
                && p.Holder.Log.Read(p.Version, 1, long.MaxValue) is [var e] && Convert.ToHexStringLower(SHA256.HashData(e.Payload)) == p.Hash)
            {
                Acknowledged.Add((p.Version, p.Hash));
                _pending.Remove(p);
            }
        }
    }
}
