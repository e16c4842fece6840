using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Membership;

// Failure detection: one probe per interval, indirect probes (answered by Ack or Nack) after the probe timeout,
// suspicion at the end of the interval, death when a suspicion expires, and Lifeguard's local health, which stretches
// all of these while this node itself is the slow one.
public sealed partial class MemberList
{
    private readonly Dictionary<ulong, IndirectProbe> _indirect = [];
    private ulong _nextSeq = 1;
    private Probe? _probe;
    private TimeSpan? _nextProbeAt;
    private TimeSpan? _due;
    private TimeSpan? _lateReference;
    private TimeSpan _holdUntil;
    private bool _resumingAfterHold;

    /// <summary>
    /// This node's own health score (Lifeguard): 0 when healthy, up to <see cref="MembershipConfig.AwarenessMaxMultiplier"/>
    /// - 1 when it keeps missing its own deadlines. Its probe interval and probe timeout are multiplied by score + 1.
    /// </summary>
    public int LocalHealth => _awareness.Score;

    /// <summary>
    /// When the machine next needs a <see cref="Tick"/> (machine time): the earliest of its pending deadlines, or
    /// <see cref="TimeSpan.MaxValue"/> when nothing is pending (a lone node with no seeds). A driver may sleep until
    /// then; read it again after every call, since a received message can bring it closer. A tick much later than
    /// this counts against the node's own health.
    /// </summary>
    public TimeSpan NextDeadline => _due ?? TimeSpan.MaxValue;

    private bool AwarenessOn => _config.AwarenessMaxMultiplier > 1;

    /// <summary>Advance the machine to <paramref name="now"/>: probe, time out suspicions, send Nacks, gossip, sync.</summary>
    public MembershipOutput Tick(TimeSpan now)
    {
        if (_nextProbeAt is null) StartSchedules(now);
        var lateBy = _lateReference is { } reference ? now - reference : TimeSpan.Zero;
        _lateReference = null;
        if (AwarenessOn && lateBy > _config.LateTick)
        {
            // We did not run when we should have: our own fault, not our peers'. Decide nothing on this tick; what
            // fell due waits a probe timeout more, so the answers that queued up meanwhile are read first. The first
            // tick after a hold decides even if it is late too, so a node that is always late still makes progress.
            _awareness.Apply(+1);
            if (!_resumingAfterHold) _holdUntil = now + _awareness.Scale(_config.ProbeTimeout);
        }
        _resumingAfterHold = now < _holdUntil;
        if (!_leaving)
        {
            var holding = now < _holdUntil;
            if (now >= _nextProbeAt && !holding)
            {
                ConcludeProbe(now);
                StartProbe(now);
                _nextProbeAt = Next(_nextProbeAt!.Value, _awareness.Scale(_config.ProbeInterval), now);
                Prune(now);
            }
            else if (!holding && _probe is { Acked: false, IndirectSent: false } probe && now >= probe.SentAt + probe.Timeout)
            {
                SendIndirectProbes(probe);
            }
            SendDueNacks(now);
            if (!holding) ExpireSuspicions(now);
            SyncIfDue(now);
        }
        GossipIfDue(now);
        return TakeOutput(now);
    }

    /// <summary>Handle <paramref name="message"/> from <paramref name="from"/> (the identity the transport authenticated).</summary>
    public MembershipOutput Receive(TimeSpan now, PeerId from, MembershipMessage message)
    {
        if (from == Self.Id) return MembershipOutput.Empty;
        if (_members.TryGetValue(from, out var sender))
        {
            _members[from] = sender with { LastHeard = now };
        }
        switch (message)
        {
            case Ping ping: OnPing(now, from, ping); break;
            case Ack ack: OnAck(now, from, ack); break;
            case Nack nack: OnNack(from, nack); break;
            case PingReq request: OnPingReq(now, from, request); break;
            case Gossip gossip: Merge(now, from, gossip.Updates); break;
            case Sync sync: OnSync(now, from, sync); break;
        }
        return TakeOutput(now);
    }

    private static TimeSpan Next(TimeSpan due, TimeSpan interval, TimeSpan now)
    {
        var next = due + interval;
        return next > now ? next : now + interval;
    }

    // The earliest pending deadline, kept after every call (see NextDeadline). Deadlines held after a late tick count
    // from the end of the hold, so waiting them out is not itself lateness. With nobody to probe or gossip to, only the
    // join retry and the sync wake the node, so a lone node sleeps. The lateness reference is the earliest wake-up we
    // asked for since the last tick, but never earlier than when we asked: a deadline that was already overdue when it
    // became relevant (a probe schedule gone stale while alone) is no sign that this node ran late.
    private void UpdateDue(TimeSpan now)
    {
        if (_nextProbeAt is not { } probeAt)
        {
            _due = null;
            return;
        }
        var due = TimeSpan.MaxValue;
        var alone = IsAlone();
        if (!_leaving)
        {
            if (!alone) due = Max(probeAt, _holdUntil);
            if (_probe is { Acked: false, IndirectSent: false } probe) due = Min(due, Max(probe.SentAt + probe.Timeout, _holdUntil));
            foreach (var relay in _indirect.Values) if (!relay.Nacked) due = Min(due, relay.NackAt);
            foreach (var suspicion in _suspicions.Values) due = Min(due, Max(suspicion.Deadline, _holdUntil));
            if (alone && _seeds.Length > 0) due = Min(due, _nextJoinAt);
            if (!alone) due = Min(due, _nextSyncAt);
        }
        if (_broadcasts.Count > 0 && _members.Count > 1) due = Min(due, _nextGossipAt);
        _due = due == TimeSpan.MaxValue ? null : due;
        if (_due is { } next)
        {
            var reference = Max(next, now);
            _lateReference = _lateReference is { } earlier && earlier < reference ? earlier : reference;
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    // Apply piggybacked updates. One older than what we know (a lower incarnation) means the sender missed news it
    // may be about to act on (a refutation it never heard, so it would declare a live member dead): answer it
    // directly with our newer view. The retransmit budget of an update can run out before every node has it; this
    // closes those gaps at the cost of one message to a node that demonstrably needs it.
    private void Merge(TimeSpan now, PeerId from, IReadOnlyList<MemberUpdate> updates)
    {
        List<MemberUpdate>? corrections = null;
        foreach (var update in updates)
        {
            if (_members.TryGetValue(update.Id, out var known) && update.Incarnation < known.Incarnation)
            {
                (corrections ??= []).Add(CurrentUpdate(known));
                continue;
            }
            Apply(now, update, rebroadcast: true);
        }
        if (corrections is not null && !from.IsEmpty) Send(from, AddressOf(from), new Gossip(corrections));
    }

    private MemberUpdate CurrentUpdate(Member member) => member.Status switch
    {
        MemberStatus.Alive => new Alive(member.Id, member.Incarnation, member.Address, member.Meta),
        _ => ViewOf(member)!,
    };

    private IReadOnlyList<MemberUpdate> Piggyback() =>
        _broadcasts.Take(_config.MaxPiggyback, _config.RetransmitLimit(ReachableCount));

    private void StartProbe(TimeSpan now)
    {
        _probe = null;
        var target = _probeOrder.Next(id => _members.TryGetValue(id, out var m) && m.IsReachable);
        if (target is not { } id) return;
        var probe = new Probe(id, _nextSeq++, now, _awareness.Scale(_config.ProbeTimeout));
        _probe = probe;
        var updates = Piggyback();
        // Probing a member we suspect: tell it, so it can refute even if the gossip about it never reached it.
        if (ViewOf(_members[id]) is { } view) updates = [.. updates, view];
        Send(id, AddressOf(id), new Ping(probe.Seq, id, updates));
    }

    private void SendIndirectProbes(Probe probe)
    {
        probe.IndirectSent = true;
        var address = AddressOf(probe.Target);
        foreach (var helper in RandomMembers(_config.IndirectProbes, m => m.Status == MemberStatus.Alive, probe.Target))
        {
            probe.Helpers.Add(helper.Id);
            Send(helper.Id, helper.Address, new PingReq(probe.Seq, probe.Target, address, Piggyback()));
        }
    }

    // The end of the probe interval. No Ack, direct or indirect: suspect the target at the incarnation we know, and
    // tell the target first (Lifeguard's buddy system), so its refutation starts before the gossip spreads. If not one
    // helper even sent a Nack, the silence is more likely ours than theirs: it counts against our own health.
    // (memberlist counts each missing Nack; one slow helper then slows a healthy prober, and in simulation that cost
    // detection time without saving a single false death.)
    private void ConcludeProbe(TimeSpan now)
    {
        if (_probe is not { } probe) return;
        _probe = null;
        if (probe.Acked) return;
        if (AwarenessOn && probe.Nacks.Count == 0) _awareness.Apply(+1);
        if (_members.TryGetValue(probe.Target, out var target) && target.IsReachable)
        {
            var suspect = new Suspect(target.Id, target.Incarnation, Self.Id);
            ApplySuspect(now, suspect, rebroadcast: true);
            Send(target.Id, target.Address, new Gossip([suspect]));
        }
    }

    private void ExpireSuspicions(TimeSpan now)
    {
        if (_suspicions.Count == 0 || !_suspicions.Values.Any(s => now >= s.Deadline)) return;
        List<(PeerId Id, ulong Incarnation)>? expired = null;
        // In member-table order, not dictionary order: a run must replay exactly from its seed.
        foreach (var id in _ids)
        {
            if (!_suspicions.TryGetValue(id, out var suspicion)) continue;
            if (now >= suspicion.Deadline) (expired ??= []).Add((id, suspicion.Incarnation));
        }
        if (expired is null) return;
        foreach (var (id, incarnation) in expired)
        {
            ApplyDead(now, new Dead(id, incarnation, Self.Id), rebroadcast: true);
        }
    }

    private void OnPing(TimeSpan now, PeerId from, Ping ping)
    {
        if (ping.Target != Self.Id) return;
        Merge(now, from, ping.Updates);
        var updates = Piggyback();
        // A member we hold as not alive is talking to us: tell it at once, so it can refute (or learn it was
        // declared dead while partitioned) instead of waiting for gossip to find it.
        if (_members.TryGetValue(from, out var sender) && ViewOf(sender) is { } view) updates = [.. updates, view];
        Send(from, AddressOf(from), new Ack(ping.Seq, updates));
    }

    private MemberUpdate? ViewOf(Member member) => member.Status switch
    {
        MemberStatus.Suspect => new Suspect(member.Id, member.Incarnation, Self.Id),
        MemberStatus.Dead => new Dead(member.Id, member.Incarnation, Self.Id),
        MemberStatus.Left => new Left(member.Id, member.Incarnation),
        _ => null,
    };

    private void OnAck(TimeSpan now, PeerId from, Ack ack)
    {
        Merge(now, from, ack.Updates);
        if (_probe is { } probe && probe.Seq == ack.Seq)
        {
            if (!probe.Acked && AwarenessOn) _awareness.Apply(-1);
            probe.Acked = true;
            if (from == probe.Target && _members.TryGetValue(from, out var target))
            {
                _members[from] = target with { RoundTrip = now - probe.SentAt };
            }
            return;
        }
        if (_indirect.Remove(ack.Seq, out var relay) && from == relay.Target)
        {
            Send(relay.Requester, AddressOf(relay.Requester), new Ack(relay.RequesterSeq, Piggyback()));
        }
    }

    private void OnNack(PeerId from, Nack nack)
    {
        if (_probe is { Acked: false } probe && probe.Seq == nack.Seq && probe.Helpers.Contains(from)) probe.Nacks.Add(from);
    }

    private void OnPingReq(TimeSpan now, PeerId from, PingReq request)
    {
        Merge(now, from, request.Updates);
        if (request.Target == Self.Id || string.IsNullOrEmpty(request.TargetAddress)) return;
        ExpireIndirect(now);
        var seq = _nextSeq++;
        // Nack at 80% of the probe timeout (Lifeguard): early enough to reach the requester before its probe ends.
        _indirect[seq] = new IndirectProbe(from, request.Seq, request.Target, now + _config.ProbeTimeout * 0.8, now + _config.ProbeInterval);
        Send(request.Target, request.TargetAddress, new Ping(seq, request.Target, Piggyback()));
    }

    // Relay duty: the target did not answer our ping in time, so tell the requester its request did arrive.
    private void SendDueNacks(TimeSpan now)
    {
        if (_indirect.Count == 0) return;
        foreach (var relay in _indirect.Values)
        {
            if (relay.Nacked || now < relay.NackAt) continue;
            relay.Nacked = true;
            Send(relay.Requester, AddressOf(relay.Requester), new Nack(relay.RequesterSeq));
        }
        ExpireIndirect(now);
    }

    private void ExpireIndirect(TimeSpan now)
    {
        if (_indirect.Count == 0) return;
        List<ulong>? expired = null;
        foreach (var (seq, relay) in _indirect) if (now >= relay.Expires) (expired ??= []).Add(seq);
        if (expired is not null) foreach (var seq in expired) _indirect.Remove(seq);
    }

    private sealed class Probe(PeerId target, ulong seq, TimeSpan sentAt, TimeSpan timeout)
    {
        public PeerId Target { get; } = target;
        public ulong Seq { get; } = seq;
        public TimeSpan SentAt { get; } = sentAt;
        public TimeSpan Timeout { get; } = timeout;
        public bool Acked { get; set; }
        public bool IndirectSent { get; set; }
        public List<PeerId> Helpers { get; } = [];
        public HashSet<PeerId> Nacks { get; } = [];
    }

    private sealed class IndirectProbe(PeerId requester, ulong requesterSeq, PeerId target, TimeSpan nackAt, TimeSpan expires)
    {
        public PeerId Requester { get; } = requester;
        public ulong RequesterSeq { get; } = requesterSeq;
        public PeerId Target { get; } = target;
        public TimeSpan NackAt { get; } = nackAt;
        public TimeSpan Expires { get; } = expires;
        public bool Nacked { get; set; }
    }
}
