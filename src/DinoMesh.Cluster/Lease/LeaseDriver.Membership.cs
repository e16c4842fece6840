using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Lease;

// What the holder does on its own initiative: voter changes, admissions, following the busiest writer.
public sealed partial class LeaseDriver
{
    private Func<PeerId, bool> _alive = _ => true;
    private Func<IReadOnlyCollection<(PeerId Peer, string Address)>> _admitted = () => [];
    private long _lastPolicyTicks;
    private readonly Dictionary<PeerId, int> _proposers = [];
    private int _proposals;
    private long _windowStart = Environment.TickCount64;

    /// <summary>Who the failure detector says is alive, and who was admitted by a join but is not in the log yet.</summary>
    public void SetMembership(Func<PeerId, bool> alive, Func<IReadOnlyCollection<(PeerId Peer, string Address)>> admitted)
    {
        _alive = alive;
        _admitted = admitted;
    }

    /// <summary>
    /// An applied entry changed the log's members: the holder replicates to those the replica names now. They are read
    /// here, under the driver's lock, never handed in: entries applied on two threads announce themselves in either order,
    /// and a list read by the first announcement but set after the second dropped the member the second one added (the
    /// holder then never replicated to it, and it never became a voter).
    /// </summary>
    public void MembersChanged()
    {
        lock (_gate)
        {
            AdvanceLocked();
            _machine.SetMembers(_replica.Current.Members.Keys);
            ProcessLocked();
        }
        AfterProcess();
    }

    private void NoteProposer(PeerId proposer)
    {
        _proposers[proposer] = _proposers.GetValueOrDefault(proposer) + 1;
        _proposals++;
    }

    /// <summary>Once a second on the holder: admit newcomers into the log, change voters, follow the busiest writer.</summary>
    private void OnTick()
    {
        var now = Environment.TickCount64;
        if (now - _lastPolicyTicks < 1000) return;
        _lastPolicyTicks = now;
        List<MutationKind> proposals = [];
        PeerId transferTo = default;
        lock (_gate)
        {
            if (!_machine.IsHolder || !_machine.CommittedInCurrentTerm) return;
            // The tip, not the applied state: an admission proposed a moment ago must not be proposed again.
            var state = TipLocked();
            foreach (var (peer, address) in _admitted())
            {
                if (!state.Members.ContainsKey(peer) && !state.Evicted.Contains(peer)) proposals.Add(new AdmitMember(peer, address));
            }
            if (!_machine.ConfigChangePending)
            {
                var next = VoterPolicy.Next(Self, _machine.Voters.Voters, state.Members.Keys.ToList(), _alive, _machine.Matches, _machine.LastVersion);
                if (next is not null) proposals.Add(new SetVoters(next));
            }
            transferTo = BusiestOtherVoterLocked(now);
        }
        foreach (var kind in proposals)
        {
            var mutation = new Mutation { Kind = kind, Proposer = Self, TimeNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 };
            var response = Propose(mutation, MutationCodec.Encode(mutation));
            _logger.LogInformation("lease: proposed {Change}: {Outcome}", Describe(kind), response.Outcome);
        }
        if (!transferTo.IsEmpty)
        {
            _logger.LogInformation("lease: most commits come from {Peer}; moving the lease there", transferTo.Short);
            _ = TransferLeaseAsync(_timing.Tick * _timing.Machine.ElectionTicks * 2);
        }
    }

    /// <summary>
    /// When another voter proposed most of the last window's mutations (and a fair number of them), the lease should
    /// move there: its commits then skip the hop to a remote holder.
    /// </summary>
    private PeerId BusiestOtherVoterLocked(long now)
    {
        if (now - _windowStart < 5_000) return default;
        var (busiest, count) = _proposers.Where(p => p.Key != Self && _machine.Voters.Contains(p.Key)).OrderByDescending(p => p.Value).FirstOrDefault();
        var total = _proposals;
        _proposers.Clear();
        _proposals = 0;
        _windowStart = now;
        return total >= 500 && count * 10 >= total * 8 ? busiest : default;
    }

    private static string Describe(MutationKind kind) => kind switch
    {
        AdmitMember a => $"admit {a.Member.Short} at {a.Address}",
        SetVoters v => $"voters {string.Join(",", v.Voters.Select(p => p.Short))}",
        RemoveMember r => $"remove {r.Member.Short}",
        _ => kind.GetType().Name,
    };
}
