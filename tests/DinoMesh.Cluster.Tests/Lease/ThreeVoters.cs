using DinoMesh.Cluster.Lease;
using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Tests.Lease;

/// <summary>Three voters with H holding the lease, and a driver for each that persists at once and queues messages.</summary>
internal sealed class ThreeVoters
{
    public static readonly PeerId H = new(new string('a', 64));
    public static readonly PeerId F1 = new(new string('b', 64));
    public static readonly PeerId F2 = new(new string('c', 64));

    private readonly Dictionary<PeerId, LeaseLog> _nodes = [];
    private readonly Dictionary<PeerId, MemoryLog> _logs = [];
    private readonly List<(PeerId From, PeerId To, LeaseMessage Message)> _queued = [];

    public ThreeVoters(LeaseConfig? config = null)
    {
        var voters = new VoterSet([H, F1, F2]);
        foreach (var id in new[] { H, F1, F2 })
        {
            var log = new MemoryLog();
            _logs[id] = log;
            _nodes[id] = new LeaseLog(id, config ?? LeaseConfig.Default, new Random(1), log, default, voters, 0, (_, _) => null, [0], life: 1);
            _nodes[id].SetMembers([H, F1, F2]);
        }
        Holder.CampaignNow();
        Drain(H);
        for (var round = 0; round < 20 && _queued.Count > 0; round++) DeliverAll();
        Assert.True(Holder.IsHolder);
        // Everyone knows the holder's first entry is committed before a test starts.
        Holder.SendCommitNotices();
        Holder.SendDeferredAppends();
        Drain(H);
        for (var round = 0; round < 20 && _queued.Count > 0; round++) DeliverAll();
        Assert.All(_nodes.Values, n => Assert.Equal(Holder.LastVersion, n.Commit));
    }

    public LeaseLog Holder => _nodes[H];

    public LeaseLog Node(PeerId id) => _nodes[id];

    /// <summary>The log <paramref name="id"/>'s machine reads as persisted (for a test that acts on a Ready itself).</summary>
    public MemoryLog Log(PeerId id) => _logs[id];

    /// <summary>What <paramref name="from"/> has queued for <paramref name="to"/> (after draining its output).</summary>
    public List<LeaseMessage> Queued(PeerId from, PeerId to)
    {
        Drain(from);
        return [.. _queued.Where(q => q.From == from && q.To == to).Select(q => q.Message)];
    }

    public void DeliverQueued(PeerId from, PeerId to, bool lastFirst = false)
    {
        Drain(from);
        var batch = _queued.Where(q => q.From == from && q.To == to).ToList();
        if (lastFirst) batch.Reverse();
        _queued.RemoveAll(q => q.From == from && q.To == to);
        foreach (var (_, _, message) in batch)
        {
            // One call each, as they would arrive when the first leaves before the second is made.
            _nodes[to].Step(from, message);
            Drain(to);
        }
    }

    /// <summary>Loses what <paramref name="from"/> has queued for <paramref name="to"/>.</summary>
    public void DropQueued(PeerId from, PeerId to)
    {
        Drain(from);
        _queued.RemoveAll(q => q.From == from && q.To == to);
    }

    /// <summary>The holder's appends to both followers, then their answers: a replication round.</summary>
    public void DeliverAppendsAndAnswers()
    {
        DeliverQueued(H, F1);
        DeliverQueued(H, F2);
        DeliverQueued(F1, H);
        DeliverQueued(F2, H);
    }

    private void DeliverAll()
    {
        var batch = _queued.ToList();
        _queued.Clear();
        foreach (var (from, to, message) in batch)
        {
            _nodes[to].Step(from, message);
            Drain(to);
        }
    }

    private void Drain(PeerId id)
    {
        var machine = _nodes[id];
        while (machine.HasReady)
        {
            var ready = machine.Ready();
            if (ready.TruncateFrom is { } from) _logs[id].TruncateFrom(from);
            _logs[id].Append(ready.Entries);
            if (ready.SyncLog) _logs[id].Sync();
            foreach (var m in ready.Messages) _queued.Add((id, m.Peer, m.Message));
            machine.Advance(ready);
        }
    }
}
