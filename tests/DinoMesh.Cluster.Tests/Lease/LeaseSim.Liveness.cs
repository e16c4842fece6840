using DinoMesh.Cluster.Lease;

namespace DinoMesh.Cluster.Tests.Lease;

// Liveness: whether some holder is being followed, and the longest stretch without one; one-way link cuts; the
// holder's voter policy run as the node's driver runs it (once a second, on what a failure detector says).
internal sealed partial class LeaseSim
{
    /// <summary>
    /// Cuts the link from <paramref name="from"/> to <paramref name="to"/> only: messages (and connects) the other way
    /// still go through (a one-sided firewall rule, a broken route back).
    /// </summary>
    public void CutOneWay(LeaseSimNode from, LeaseSimNode to) => _cutLinks.Add((from.Index, to.Index));

    /// <summary>
    /// The holder a majority of its voters follows now (itself included): up, not stalled, and each of those voters up,
    /// not stalled, in its term and naming it; null when there is none, so commits cannot be made anywhere.
    /// </summary>
    public LeaseSimNode? FollowedHolder()
    {
        foreach (var holder in Holders.Where(h => h.Stalled == 0).OrderByDescending(h => h.Machine.Term))
        {
            var voters = holder.Machine.Voters;
            var following = Nodes.Count(n => voters.Contains(n.Id) && n.Up && n.Stalled == 0
                && (n == holder || (n.Machine.Term == holder.Machine.Term && n.Machine.Holder == holder.Id)));
            if (following >= voters.Quorum) return holder;
        }
        return null;
    }

    /// <summary>
    /// Some node that is up and not stalled reaches (both ways) a majority of all the simulated nodes, itself included:
    /// a holder could be elected and followed if the voters were those nodes.
    /// </summary>
    public bool MajorityConnected() => Nodes.Any(c => c.Up && c.Stalled == 0
        && Nodes.Count(n => n.Up && n.Stalled == 0 && (n == c || (Linked(c, n) && Linked(n, c)))) > Nodes.Count / 2);

    /// <summary>
    /// The current stretch, in ms, during which a majority of the nodes was connected (<see cref="MajorityConnected"/>)
    /// and yet no holder was followed (0 while one is, or while no majority is connected).
    /// </summary>
    public long WithoutHolderMs { get; private set; }

    /// <summary>The longest such stretch since <see cref="ResetLongestWithoutHolder"/>, in ms.</summary>
    public long LongestWithoutHolderMs { get; private set; }

    public void ResetLongestWithoutHolder() => LongestWithoutHolderMs = WithoutHolderMs;

    /// <summary>
    /// Runs the clock for <paramref name="ms"/> one tick at a time, noting after each tick whether a holder is followed;
    /// with <paramref name="alive"/>, the followed holder also runs <see cref="VoterPolicy"/> once a second on that
    /// failure detector's verdicts, as <see cref="LeaseDriver"/> does (it proposes voter changes on its own).
    /// </summary>
    public void RunWatched(long ms, double proposalsPerTick = 0, Func<LeaseSimNode, bool>? alive = null)
    {
        for (var elapsed = 0L; elapsed < ms; elapsed += TickMs)
        {
            Run(TickMs, proposalsPerTick);
            AcknowledgeCommitted();
            WithoutHolderMs = FollowedHolder() is null && MajorityConnected() ? WithoutHolderMs + TickMs : 0;
            LongestWithoutHolderMs = Math.Max(LongestWithoutHolderMs, WithoutHolderMs);
            if (alive is not null && NowMs % 1_000 == 0) ApplyVoterPolicy(alive);
        }
    }

    /// <summary>
    /// What the holder's driver does once a second: asks <see cref="VoterPolicy"/> for the next voter change, with
    /// every simulated node a member and <paramref name="alive"/> as the failure detector, and proposes it. Returns
    /// whether a change was proposed.
    /// </summary>
    public bool ApplyVoterPolicy(Func<LeaseSimNode, bool> alive)
    {
        var holder = Holders.Where(h => h.Stalled == 0).OrderByDescending(h => h.Machine.Term).FirstOrDefault();
        if (holder is null || !holder.Machine.CommittedInCurrentTerm || holder.Machine.ConfigChangePending) return false;
        var next = VoterPolicy.Next(holder.Id, holder.Machine.Voters.Voters, Nodes.Select(n => n.Id).ToList(),
            id => alive(_byId[id]), holder.Machine.Matches, holder.Machine.LastVersion);
        if (next is null) return false;
        VoterChanges.Add(string.Join(",", next.Select(v => _byId[v].ToString())));
        var payload = new byte[] { 0xC0 }.Concat(next.Select(v => (byte)_byId[v].Index)).ToArray();
        var version = holder.Machine.Propose([payload]);
        Process(holder);
        return version > 0;
    }

    /// <summary>The voter sets <see cref="ApplyVoterPolicy"/> proposed, in order (for failure messages).</summary>
    public List<string> VoterChanges { get; } = [];
}
