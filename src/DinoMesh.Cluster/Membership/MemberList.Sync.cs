using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Membership;

// Dissemination and whole-state exchange: gossip rounds, join, periodic anti-entropy sync, leave, pruning.
public sealed partial class MemberList
{
    private string[] _seeds = [];
    private TimeSpan _nextGossipAt;
    private TimeSpan _nextSyncAt;
    private TimeSpan _nextJoinAt;
    private int _joinAttempts;

    /// <summary>
    /// Join through <paramref name="seedAddresses"/> ("host:port"): send up to <see cref="JoinFanout"/> of them our full
    /// state; each answers with its own. While this node knows no other reachable member it tries again, with the next
    /// seeds, after one probe interval, then two, four, ... up to the sync interval, so a crowd of nodes starting
    /// against one busy seed backs off instead of piling on.
    /// </summary>
    public MembershipOutput Join(TimeSpan now, IEnumerable<string> seedAddresses)
    {
        _seeds = [.. seedAddresses.Where(a => !string.IsNullOrEmpty(a) && a != Self.Address).Distinct()];
        _joinAttempts = 0;
        SendJoin(now);
        return TakeOutput(now);
    }

    /// <summary>Seeds one join attempt writes to: enough that one dead seed does not stall the join, few enough not to stampede.</summary>
    public const int JoinFanout = 3;

    /// <summary>
    /// Leave gracefully: raise our incarnation, announce Left directly to every reachable member and keep gossiping
    /// it on later ticks. Stop probing. The caller should keep ticking for a few gossip intervals before shutting down.
    /// </summary>
    public MembershipOutput Leave(TimeSpan now)
    {
        if (_leaving) return MembershipOutput.Empty;
        _leaving = true;
        _probe = null;
        _suspicions.Clear();
        SetSelf(Self with { Status = MemberStatus.Left, Incarnation = Self.Incarnation + 1, StatusSince = now });
        var left = new Left(Self.Id, Self.Incarnation);
        _broadcasts.Enqueue(left);
        // One direct message per member: a leave is rare, and it must land before anyone's next probe of us fails.
        foreach (var id in _ids)
        {
            var member = _members[id];
            if (member.Id != Self.Id && member.IsReachable) Send(member.Id, member.Address, new Gossip([left]));
        }
        Emit(now, MemberEventKind.Left, Self);
        return TakeOutput(now);
    }

    /// <summary>Change the metadata this node gossips about itself (raises its incarnation so the change wins).</summary>
    public MembershipOutput UpdateMeta(TimeSpan now, string meta)
    {
        if (_leaving || meta == Self.Meta) return MembershipOutput.Empty;
        SetSelf(Self with { Meta = meta, Incarnation = Self.Incarnation + 1 });
        _broadcasts.Enqueue(SelfAlive());
        Emit(now, MemberEventKind.Updated, Self);
        return TakeOutput(now);
    }

    private IReadOnlyList<MemberState> FullState()
    {
        var states = new MemberState[_members.Count];
        var i = 0;
        foreach (var id in _ids) states[i++] = _members[id].ToState();
        return states;
    }

    private bool IsAlone()
    {
        foreach (var member in _members.Values) if (member.Id != Self.Id && member.IsReachable) return false;
        return true;
    }

    // Spread the first probe, gossip and sync of a node over the interval so nodes started together do not act in step.
    private void StartSchedules(TimeSpan now)
    {
        _nextProbeAt = now + _config.ProbeInterval * _random.NextDouble();
        _nextGossipAt = now + _config.GossipInterval * _random.NextDouble();
        _nextSyncAt = now + _config.SyncInterval * _random.NextDouble();
    }

    private void SendJoin(TimeSpan now)
    {
        var backoff = _config.ProbeInterval * Math.Pow(2, Math.Min(_joinAttempts, 16));
        _nextJoinAt = now + (backoff < _config.SyncInterval ? backoff : _config.SyncInterval);
        if (_seeds.Length == 0) return;
        var state = FullState();
        var count = Math.Min(JoinFanout, _seeds.Length);
        for (var i = 0; i < count; i++) Send(default, _seeds[(_joinAttempts * JoinFanout + i) % _seeds.Length], new Sync(IsReply: false, state));
        _joinAttempts++;
    }

    private void GossipIfDue(TimeSpan now)
    {
        if (now < _nextGossipAt) return;
        _nextGossipAt = Next(_nextGossipAt, _config.GossipInterval, now);
        if (_broadcasts.Count == 0) return;
        // Recently dead members are included so that one falsely declared dead hears it and refutes.
        var targets = RandomMembers(_config.GossipFanout, m =>
            m.IsReachable || (m.Status == MemberStatus.Dead && now - m.StatusSince < _config.GossipToTheDeadTime));
        foreach (var target in targets)
        {
            var updates = Piggyback();
            if (updates.Count == 0) break;
            Send(target.Id, target.Address, new Gossip(updates));
        }
    }

    // Anti-entropy with one random member. Dead members are candidates too: a healed partition re-merges this way.
    // While alone, keep knocking on the seeds instead.
    private void SyncIfDue(TimeSpan now)
    {
        if (IsAlone())
        {
            if (now >= _nextJoinAt) SendJoin(now);
            return;
        }
        if (now < _nextSyncAt) return;
        _nextSyncAt = Next(_nextSyncAt, _config.SyncInterval, now);
        foreach (var target in RandomMembers(1, m => m.Status != MemberStatus.Left))
        {
            Send(target.Id, target.Address, new Sync(IsReply: false, FullState()));
        }
    }

    private void OnSync(TimeSpan now, PeerId from, Sync sync)
    {
        // Learning the whole cluster from a join reply is not news to anyone else: do not re-gossip it.
        var rebroadcast = !(sync.IsReply && IsAlone());
        foreach (var state in sync.Members) MergeState(now, from, state, rebroadcast);
        if (!sync.IsReply && !from.IsEmpty) Send(from, AddressOf(from), new Sync(IsReply: true, FullState()));
    }

    private void MergeState(TimeSpan now, PeerId from, MemberState state, bool rebroadcast)
    {
        if (state.Id.IsEmpty) return;
        var known = state.Id == Self.Id || _members.ContainsKey(state.Id);
        switch (state.Status)
        {
            case MemberStatus.Alive:
                Apply(now, new Alive(state.Id, state.Incarnation, state.Address, state.Meta), rebroadcast);
                break;
            case MemberStatus.Suspect:
                if (!known) Apply(now, new Alive(state.Id, state.Incarnation, state.Address, state.Meta), rebroadcast: false);
                Apply(now, new Suspect(state.Id, state.Incarnation, from), rebroadcast);
                break;
            case MemberStatus.Dead when known:
                // Another node's "dead" is only a reason to suspect: if the member is alive (say, on our side of a
                // healed partition) it gets the chance to refute instead of being declared dead on hearsay.
                if (state.Id == Self.Id) Apply(now, new Dead(state.Id, state.Incarnation, from), rebroadcast);
                else Apply(now, new Suspect(state.Id, state.Incarnation, from), rebroadcast);
                break;
            case MemberStatus.Left when known:
                Apply(now, new Left(state.Id, state.Incarnation), rebroadcast);
                break;
            case MemberStatus.Dead or MemberStatus.Left when !string.IsNullOrEmpty(state.Address):
                // Unknown and already gone: keep the record (for peers, and as a sync target) without any event.
                Put(new Member(state.Id, state.Address, state.Status, state.Incarnation, state.Meta, now));
                break;
        }
    }

    private void Prune(TimeSpan now)
    {
        List<PeerId>? gone = null;
        foreach (var member in _members.Values)
        {
            if (member.Id != Self.Id && !member.IsReachable && now - member.StatusSince >= _config.DeadRetention) (gone ??= []).Add(member.Id);
        }
        if (gone is null) return;
        foreach (var id in gone) Forget(id);
    }
}
