using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Membership;

// Failure detection: one probe per interval, indirect probes after the probe timeout, suspicion at the end of the
// interval, death when a suspicion expires.
public sealed partial class MemberList
{
    private readonly Dictionary<ulong, IndirectProbe> _indirect = [];
    private ulong _nextSeq = 1;
    private Probe? _probe;
    private TimeSpan? _nextProbeAt;

    /// <summary>Advance the machine to <paramref name="now"/>: probe, time out suspicions, gossip, sync.</summary>
    public MembershipOutput Tick(TimeSpan now)
    {
        if (_nextProbeAt is null) StartSchedules(now);
        if (!_leaving)
        {
            if (now >= _nextProbeAt)
            {
                ConcludeProbe(now);
                StartProbe(now);
                _nextProbeAt = Next(_nextProbeAt!.Value, _config.ProbeInterval, now);
                Prune(now);
            }
            else if (_probe is { Acked: false, IndirectSent: false } probe && now >= probe.SentAt + _config.ProbeTimeout)
            {
                SendIndirectProbes(probe);
            }
            ExpireSuspicions(now);
            SyncIfDue(now);
        }
        GossipIfDue(now);
        return TakeOutput();
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
            case PingReq request: OnPingReq(now, from, request); break;
            case Gossip gossip: Merge(now, from, gossip.Updates); break;
            case Sync sync: OnSync(now, from, sync); break;
        }
        return TakeOutput();
    }

    private static TimeSpan Next(TimeSpan due, TimeSpan interval, TimeSpan now)
    {
        var next = due + interval;
        return next > now ? next : now + interval;
    }

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
        var probe = new Probe(id, _nextSeq++, now);
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
            Send(helper.Id, helper.Address, new PingReq(probe.Seq, probe.Target, address, Piggyback()));
        }
    }

    // No Ack, direct or indirect, by the end of the interval: suspect the target at the incarnation we know.
    private void ConcludeProbe(TimeSpan now)
    {
        if (_probe is not { Acked: false } probe) return;
        _probe = null;
        if (_members.TryGetValue(probe.Target, out var target) && target.IsReachable)
        {
            ApplySuspect(now, new Suspect(target.Id, target.Incarnation, Self.Id), rebroadcast: true);
        }
    }

    private void ExpireSuspicions(TimeSpan now)
    {
        if (_suspicions.Count == 0) return;
        List<(PeerId Id, ulong Incarnation)>? expired = null;
        foreach (var (id, suspicion) in _suspicions)
        {
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

    private void OnPingReq(TimeSpan now, PeerId from, PingReq request)
    {
        Merge(now, from, request.Updates);
        if (request.Target == Self.Id || string.IsNullOrEmpty(request.TargetAddress)) return;
        ExpireIndirect(now);
        var seq = _nextSeq++;
        _indirect[seq] = new IndirectProbe(from, request.Seq, request.Target, now + _config.ProbeInterval);
        Send(request.Target, request.TargetAddress, new Ping(seq, request.Target, Piggyback()));
    }

    private void ExpireIndirect(TimeSpan now)
    {
        if (_indirect.Count == 0) return;
        List<ulong>? expired = null;
        foreach (var (seq, relay) in _indirect) if (now >= relay.Expires) (expired ??= []).Add(seq);
        if (expired is not null) foreach (var seq in expired) _indirect.Remove(seq);
    }

    private sealed class Probe(PeerId target, ulong seq, TimeSpan sentAt)
    {
        public PeerId Target { get; } = target;
        public ulong Seq { get; } = seq;
        public TimeSpan SentAt { get; } = sentAt;
        public bool Acked { get; set; }
        public bool IndirectSent { get; set; }
    }

    private readonly record struct IndirectProbe(PeerId Requester, ulong RequesterSeq, PeerId Target, TimeSpan Expires);
}
