using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Membership;

/// <summary>
/// SWIM membership as a deterministic state machine: messages and ticks in, messages and events out. It owns no
/// socket, timer, thread or clock: the caller passes the monotonic time into every call, and all randomness comes
/// from the injected <see cref="Random"/>, so a run replays exactly from its seed. Not thread-safe: one caller at a time.
/// This file holds the state and the precedence rules; probing, dissemination and full-state exchange are in the
/// partial files next to it.
/// </summary>
public sealed partial class MemberList
{
    private readonly MembershipConfig _config;
    private readonly Random _random;
    private readonly Dictionary<PeerId, Member> _members = [];
    private readonly Dictionary<PeerId, Suspicion> _suspicions = [];
    private readonly BroadcastQueue _broadcasts = new();
    private readonly ProbeOrder _probeOrder;
    private readonly List<Outbound> _outbound = [];
    private readonly List<MemberEvent> _events = [];
    private readonly List<PeerId> _ids = [];
    private readonly List<Member> _scratch = [];
    private readonly Awareness _awareness;
    private int _reachable;
    private bool _leaving;

    /// <summary>
    /// A machine for the local member <paramref name="id"/> at <paramref name="address"/>. A node that restarts passes
    /// incarnation 0: it learns its old incarnation from the cluster on join and raises it.
    /// </summary>
    public MemberList(PeerId id, string address, MembershipConfig config, Random random, TimeSpan now, ulong incarnation = 0, string meta = "")
    {
        if (id.IsEmpty) throw new ArgumentException("the local member needs an id", nameof(id));
        if (config.Validate() is { } problem) throw new ArgumentException(problem, nameof(config));
        _config = config;
        _random = random;
        _probeOrder = new ProbeOrder(random);
        _awareness = new Awareness(config.AwarenessMaxMultiplier);
        Self = new Member(id, address, MemberStatus.Alive, incarnation, meta, now);
        Put(Self);
        // Announce ourselves to whoever we talk to first: this is how a joiner becomes known beyond its seed.
        _broadcasts.Enqueue(SelfAlive());
    }

    /// <summary>This node's own record.</summary>
    public Member Self { get; private set; }

    /// <summary>The configuration this machine runs with.</summary>
    public MembershipConfig Config => _config;

    /// <summary>A snapshot of every known member, this node included, dead and left ones until pruned.</summary>
    public IReadOnlyList<Member> Members => [.. _ids.Select(id => _members[id])];

    /// <summary>Members currently alive or suspect, this node included: the N the protocol scales with.</summary>
    public int ReachableCount => _reachable;

    /// <summary>The record for <paramref name="id"/>, if known.</summary>
    public Member? Find(PeerId id) => _members.GetValueOrDefault(id);

    private Alive SelfAlive() => new(Self.Id, Self.Incarnation, Self.Address, Self.Meta);

    private void SetSelf(Member self)
    {
        Self = self;
        Put(self);
    }

    // Every write to the member table goes through Put and Forget, which keep the reachable count and the id list in
    // step. The id list samples random members without scanning the table, and gives every walk over the members a
    // fixed order (dictionary order follows string hashes, which differ per process), so a seed replays anywhere.
    private void Put(Member member)
    {
        if (_members.TryGetValue(member.Id, out var old))
        {
            if (old.IsReachable) _reachable--;
        }
        else
        {
            _ids.Add(member.Id);
            if (member.Id != Self.Id) _probeOrder.Add(member.Id);
        }
        if (member.IsReachable) _reachable++;
        _members[member.Id] = member;
    }

    private void Forget(PeerId id)
    {
        if (!_members.Remove(id, out var old)) return;
        if (old.IsReachable) _reachable--;
        _ids.Remove(id);
        _probeOrder.Remove(id);
    }

    private void Emit(TimeSpan now, MemberEventKind kind, Member member) => _events.Add(new MemberEvent(now, kind, member));

    private void Send(PeerId to, string address, MembershipMessage message) => _outbound.Add(new Outbound(to, address, message));

    private string AddressOf(PeerId id) => _members.TryGetValue(id, out var member) ? member.Address : "";

    private MembershipOutput TakeOutput(TimeSpan now)
    {
        UpdateDue(now);
        if (_outbound.Count == 0 && _events.Count == 0) return MembershipOutput.Empty;
        var output = new MembershipOutput([.. _outbound], [.. _events]);
        _outbound.Clear();
        _events.Clear();
        return output;
    }

    private void Apply(TimeSpan now, MemberUpdate update, bool rebroadcast)
    {
        if (update.Id.IsEmpty) return;
        switch (update)
        {
            case Alive alive: ApplyAlive(now, alive, rebroadcast); break;
            case Suspect suspect: ApplySuspect(now, suspect, rebroadcast); break;
            case Dead dead: ApplyDead(now, dead, rebroadcast); break;
            case Left left: ApplyLeft(now, left, rebroadcast); break;
        }
    }

    // Alive(inc) wins over any state with a lower incarnation; it is the only update that introduces a member,
    // because only it carries an address.
    private void ApplyAlive(TimeSpan now, Alive alive, bool rebroadcast)
    {
        if (alive.Id == Self.Id)
        {
            // Someone holds a newer or different "alive" for us (a previous life of this node): outbid it.
            if (alive.Incarnation > Self.Incarnation ||
                (alive.Incarnation == Self.Incarnation && (alive.Address != Self.Address || alive.Meta != Self.Meta)))
            {
                Refute(now, alive.Incarnation);
            }
            return;
        }
        if (string.IsNullOrEmpty(alive.Address)) return;
        if (!_members.TryGetValue(alive.Id, out var known))
        {
            var added = new Member(alive.Id, alive.Address, MemberStatus.Alive, alive.Incarnation, alive.Meta, now);
            Put(added);
            Emit(now, MemberEventKind.Joined, added);
            if (rebroadcast) _broadcasts.Enqueue(alive);
            return;
        }
        if (alive.Incarnation <= known.Incarnation) return;
        _suspicions.Remove(alive.Id);
        var changed = known.Address != alive.Address || known.Meta != alive.Meta;
        var updated = known with
        {
            Address = alive.Address,
            Meta = alive.Meta,
            Status = MemberStatus.Alive,
            Incarnation = alive.Incarnation,
            StatusSince = known.Status == MemberStatus.Alive ? known.StatusSince : now,
        };
        Put(updated);
        switch (known.Status)
        {
            case MemberStatus.Suspect: Emit(now, MemberEventKind.Refuted, updated); break;
            case MemberStatus.Dead or MemberStatus.Left: Emit(now, MemberEventKind.Joined, updated); break;
            case MemberStatus.Alive when changed: Emit(now, MemberEventKind.Updated, updated); break;
        }
        if (rebroadcast) _broadcasts.Enqueue(alive);
    }

    // Suspect(inc) wins over Alive(inc') when inc >= inc'; the same suspicion from another member is a confirmation.
    private void ApplySuspect(TimeSpan now, Suspect suspect, bool rebroadcast)
    {
        if (suspect.Id == Self.Id)
        {
            if (suspect.Incarnation >= Self.Incarnation) RefuteSuspicion(now, suspect.Incarnation);
            return;
        }
        if (!_members.TryGetValue(suspect.Id, out var known) || !known.IsReachable) return;
        if (suspect.Incarnation < known.Incarnation) return;
        if (known.Status == MemberStatus.Suspect && suspect.Incarnation == known.Incarnation)
        {
            if (_suspicions.TryGetValue(suspect.Id, out var timer) && timer.Confirm(suspect.From) && rebroadcast)
            {
                _broadcasts.Enqueue(suspect);
            }
            return;
        }
        var suspected = known with { Status = MemberStatus.Suspect, Incarnation = suspect.Incarnation, StatusSince = now };
        Put(suspected);
        var n = ReachableCount;
        // A suspicion this node starts or hears while its own health is poor lasts that much longer (see
        // MembershipConfig.LocalHealthStretchesSuspicion): when the whole machine is overloaded, refutations are late too.
        var min = _config.LocalHealthStretchesSuspicion ? _awareness.Scale(_config.SuspicionTimeout(n)) : _config.SuspicionTimeout(n);
        var expected = n - 2 < _config.SuspicionMult - 2 ? 0 : _config.SuspicionMult - 2;
        _suspicions[suspect.Id] = new Suspicion(suspect.From, suspect.Incarnation, now, min, min * _config.SuspicionMaxTimeoutMult, expected);
        Emit(now, MemberEventKind.Suspected, suspected);
        if (rebroadcast) _broadcasts.Enqueue(suspect);
    }

    // Dead(inc) wins over Alive/Suspect with inc' <= inc. A dead member comes back only with a higher Alive.
    private void ApplyDead(TimeSpan now, Dead dead, bool rebroadcast)
    {
        if (dead.Id == Self.Id)
        {
            if (dead.Incarnation >= Self.Incarnation) RefuteSuspicion(now, dead.Incarnation);
            return;
        }
        if (!_members.TryGetValue(dead.Id, out var known) || !known.IsReachable) return;
        if (dead.Incarnation < known.Incarnation) return;
        _suspicions.Remove(dead.Id);
        var updated = known with { Status = MemberStatus.Dead, Incarnation = dead.Incarnation, StatusSince = now };
        Put(updated);
        Emit(now, MemberEventKind.Dead, updated);
        if (rebroadcast) _broadcasts.Enqueue(dead);
    }

    // Left(inc) wins over Alive/Suspect/Dead with inc' <= inc (the member said so itself; better than our guess).
    private void ApplyLeft(TimeSpan now, Left left, bool rebroadcast)
    {
        if (left.Id == Self.Id)
        {
            // A previous life of this node left; we are back, so we must outbid that announcement.
            if (left.Incarnation >= Self.Incarnation) Refute(now, left.Incarnation);
            return;
        }
        if (!_members.TryGetValue(left.Id, out var known) || known.Status == MemberStatus.Left) return;
        if (left.Incarnation < known.Incarnation) return;
        _suspicions.Remove(left.Id);
        var updated = known with { Status = MemberStatus.Left, Incarnation = left.Incarnation, StatusSince = now };
        Put(updated);
        Emit(now, MemberEventKind.Left, updated);
        if (rebroadcast) _broadcasts.Enqueue(left);
    }

    // Others could not reach us in time: a sign of our own trouble as much as theirs (Lifeguard counts it).
    private void RefuteSuspicion(TimeSpan now, ulong seen)
    {
        if (AwarenessOn && !_leaving) _awareness.Apply(+1);
        Refute(now, seen);
    }

    // Only a member can speak for itself with a higher incarnation: that is what makes a suspicion refutable.
    private void Refute(TimeSpan now, ulong seen)
    {
        if (_leaving) return;
        SetSelf(Self with { Incarnation = Math.Max(seen, Self.Incarnation) + 1 });
        _broadcasts.Enqueue(SelfAlive());
        Emit(now, MemberEventKind.Refuted, Self);
    }

    // Up to count distinct random members matching the filter, this node and exclude left out. Samples the id list
    // (cheap when most members match, the common case) and falls back to a scan when sampling keeps missing.
    // The result is reused scratch space: consume it before the next call.
    private List<Member> RandomMembers(int count, Func<Member, bool> filter, PeerId exclude = default)
    {
        _scratch.Clear();
        if (count <= 0) return _scratch;
        for (var attempt = 0; attempt < count * 4 && _scratch.Count < count; attempt++)
        {
            var member = _members[_ids[_random.Next(_ids.Count)]];
            if (member.Id != Self.Id && member.Id != exclude && filter(member) && !_scratch.Contains(member)) _scratch.Add(member);
        }
        if (_scratch.Count == count) return _scratch;
        _scratch.Clear();
        foreach (var id in _ids)
        {
            var member = _members[id];
            if (member.Id != Self.Id && member.Id != exclude && filter(member)) _scratch.Add(member);
        }
        var take = Math.Min(count, _scratch.Count);
        for (var i = 0; i < take; i++)
        {
            var j = _random.Next(i, _scratch.Count);
            (_scratch[i], _scratch[j]) = (_scratch[j], _scratch[i]);
        }
        _scratch.RemoveRange(take, _scratch.Count - take);
        return _scratch;
    }
}
