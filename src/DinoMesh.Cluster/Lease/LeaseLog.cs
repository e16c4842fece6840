using DinoMesh.Core.Identity;

namespace DinoMesh.Cluster.Lease;

/// <summary>
/// The lease protocol as a deterministic state machine (Raft with pre-vote, check-quorum, learners, leadership transfer
/// and one-member-at-a-time voter changes): messages and ticks go in, a <see cref="LeaseReady"/> comes out saying what
/// to persist, send and apply. It owns no socket, thread, timer or disk; randomness is injected, so a run replays
/// from its seed. The node's driver runs it on real time; the simulator runs hundreds of them on a fake network.
/// </summary>
public sealed partial class LeaseLog
{
    private readonly LeaseConfig _config;
    private readonly Random _random;
    private readonly ILogView _stable;
    private readonly Func<LogEntry, VoterSet, VoterSet?> _configOf;
    private readonly byte[] _noopPayload;
    private readonly List<LogEntry> _unstable = [];
    private readonly List<LeaseEnvelope> _outbox = [];
    private readonly List<PeerId> _snapshotsToSend = [];
    private readonly Dictionary<PeerId, Progress> _progress = [];
    private readonly Dictionary<PeerId, bool> _votes = [];

    /// <summary>Voter sets from configuration entries in the log, in version order, after the base one.</summary>
    private readonly List<(long Version, VoterSet Voters)> _configs = [];

    private VoterSet _baseVoters;
    private HashSet<PeerId> _members = [];
    private long? _truncateFrom;
    private (long Version, long Term, VoterSet Voters, bool Replaces)? _snapshotToInstall;
    private bool _hardStateDirty, _hardStateMustSync;
    private bool _syncWanted;
    private long _synced;
    private long _syncRequested;
    private int _electionElapsed, _heartbeatElapsed, _randomizedElectionTimeout;
    private PeerId _transferTarget;
    private int _transferElapsed;

    /// <param name="life">
    /// Which start of this node this is, growing with every start (persisted by the driver). Answers carry it, so a
    /// holder knows when a follower restarted and may have lost the unsynced end of its log.
    /// </param>
    public LeaseLog(PeerId self, LeaseConfig config, Random random, ILogView stable, HardState hardState, VoterSet voters,
        long votersVersion, Func<LogEntry, VoterSet, VoterSet?> configOf, byte[] noopPayload, long life = 0)
    {
        Life = life;
        config.Validate();
        Self = self;
        _config = config;
        _random = random;
        _stable = stable;
        _configOf = configOf;
        _noopPayload = noopPayload;
        _baseVoters = voters;
        Term = hardState.Term;
        Vote = hardState.Vote;
        // A power cut can take back the unsynced end of the log, and with it entries the recorded commit covers.
        Commit = Math.Max(Math.Min(hardState.Commit, stable.LastVersion), stable.Snapshot.Version);
        _synced = stable.Snapshot.Version;
        // Configuration entries take effect when appended, committed or not: find those after the base.
        for (var from = votersVersion + 1; from <= stable.LastVersion;)
        {
            var batch = stable.Read(from, 1024, 16 << 20);
            if (batch.Count == 0) break;
            foreach (var e in batch) NoteConfig(e);
            from = batch[^1].Version + 1;
        }
        Role = Voters.Contains(self) ? LeaseRole.Voter : LeaseRole.Learner;
        ResetElectionTimeout();
    }

    public PeerId Self { get; }

    /// <summary>Which start of this node this machine is (see the constructor).</summary>
    public long Life { get; }

    public LeaseRole Role { get; private set; }

    public long Term { get; private set; }

    public PeerId Vote { get; private set; }

    /// <summary>The newest version known to be committed (on a majority of voters' logs).</summary>
    public long Commit { get; private set; }

    public bool IsHolder => Role == LeaseRole.Holder;

    /// <summary>The voters as of the newest configuration entry in the log (committed or not).</summary>
    public VoterSet Voters => _configs.Count > 0 ? _configs[^1].Voters : _baseVoters;

    /// <summary>True while a voter change is in the log but not yet committed: no second one may be proposed.</summary>
    public bool ConfigChangePending => _configs.Count > 0 && _configs[^1].Version > Commit;

    /// <summary>The holder has committed an entry of its own term (its no-op): only then may it change voters.</summary>
    public bool CommittedInCurrentTerm => IsHolder && TermAt(Commit) == Term;

    /// <summary>A leadership transfer is under way: proposals are refused until it ends.</summary>
    public bool Transferring => !_transferTarget.IsEmpty;

    public long LastVersion => _unstable.Count > 0 ? _unstable[^1].Version : _truncateFrom is { } t ? t - 1 : _stable.LastVersion;

    public long LastTerm => TermAt(LastVersion);

    /// <summary>On the holder: the newest version that is durable (fdatasynced) on a majority of voters.</summary>
    public long SyncedCommit => IsHolder ? Math.Min(Commit, QuorumValue(static p => p.Synced, _synced)) : 0;

    /// <summary>On the holder: the newest version each follower is known to hold (its replication lag is LastVersion minus it).</summary>
    public IReadOnlyDictionary<PeerId, long> Matches => IsHolder ? _progress.ToDictionary(p => p.Key, p => p.Value.Match) : new Dictionary<PeerId, long>();

    /// <summary>For diagnostics: what the holder knows of each follower's log.</summary>
    public string DescribeProgress() => string.Join("; ", _progress.Select(p => $"{p.Key.Short}: {p.Value}"));

    /// <summary>
    /// A follower that knows no holder, or has not heard from it for longer than its heartbeats can explain (a
    /// learner's come far less often than a voter's; see <see cref="LeaseConfig.HolderSilenceTicks"/>).
    /// </summary>
    public bool HolderLost => !IsHolder && (Holder.IsEmpty || _electionElapsed >= _config.HolderSilenceTicks(Role == LeaseRole.Learner) * LeaseScale);

    /// <summary>The term of <paramref name="version"/> in this node's log, or -1 when it holds no such entry.</summary>
    public long TermAt(long version)
    {
        if (_snapshotToInstall is { } s) return version == s.Version ? s.Term : version < s.Version ? -1 : UnstableTerm(version);
        if (_unstable.Count > 0 && version >= _unstable[0].Version) return UnstableTerm(version);
        if (_truncateFrom is { } t && version >= t) return -1;
        return _stable.TermAt(version);
    }

    private long UnstableTerm(long version)
    {
        if (_unstable.Count == 0 || version < _unstable[0].Version || version > _unstable[^1].Version) return -1;
        return _unstable[(int)(version - _unstable[0].Version)].Term;
    }

    /// <summary>The members the holder replicates to (voters are always included). Learners come and go with membership.</summary>
    public void SetMembers(IEnumerable<PeerId> members)
    {
        _members = [.. members.Where(m => m != Self)];
        foreach (var gone in _progress.Keys.Where(p => !_members.Contains(p) && !Voters.Contains(p)).ToList()) _progress.Remove(gone);
    }

    /// <summary>
    /// Members, then voters, without this node, each once (in that order, as the simulations' schedules expect). Made
    /// again only when the members or the voters changed (both are replaced, never changed in place): asked on every
    /// proposal and heartbeat, where a new array each time (40 bytes a peer) was about 220 bytes of each commit round.
    /// The array is never written once made, so a caller looping over it while the members change sees the old list.
    /// </summary>
    private ArraySegment<PeerId> Followers
    {
        get
        {
            var voterSet = Voters;
            if (!ReferenceEquals(voterSet, _followersOf.Voters) || !ReferenceEquals(_members, _followersOf.Members))
            {
                var voters = voterSet.Voters;
                var followers = new PeerId[_members.Count + voters.Count];
                var count = 0;
                foreach (var member in _members) followers[count++] = member;
                for (var i = 0; i < voters.Count; i++)
                {
                    var voter = voters[i];
                    if (voter != Self && Array.IndexOf(followers, voter, 0, count) < 0) followers[count++] = voter;
                }
                _followers = new ArraySegment<PeerId>(followers, 0, count);
                _followersOf = (voterSet, _members);
            }
            return _followers;
        }
    }

    private ArraySegment<PeerId> _followers;
    private (VoterSet? Voters, HashSet<PeerId>? Members) _followersOf;

    private void Send(PeerId to, LeaseMessage message) => _outbox.Add(new LeaseEnvelope(to, message));

    private void ResetElectionTimeout() =>
        _randomizedElectionTimeout = QuickElectionTimeout() ?? _config.ElectionTicks + _random.Next(_config.ElectionTicks);

    private void SetHardState(long term, PeerId vote)
    {
        if (term == Term && vote == Vote) return;
        Term = term;
        Vote = vote;
        _hardStateDirty = true;
        _hardStateMustSync = true;
    }

    private void NoteConfig(LogEntry entry)
    {
        if (_configOf(entry, Voters) is not { } voters) return;
        _configs.Add((entry.Version, voters));
        RefreshRole();
    }

    private void ForgetConfigsFrom(long version)
    {
        if (_configs.RemoveAll(c => c.Version >= version) > 0) RefreshRole();
    }

    /// <summary>A follower promoted to voter (or demoted to learner) by a configuration entry acts as one at once.</summary>
    private void RefreshRole()
    {
        if (Role is LeaseRole.Voter or LeaseRole.Learner) Role = Voters.Contains(Self) ? LeaseRole.Voter : LeaseRole.Learner;
    }

    /// <summary>
    /// The quorum-th highest of a per-voter value (this node's own given separately). Asked several times per proposal
    /// on the holder (every deferral check asks for <see cref="SyncedCommit"/>), so it sorts on the stack: the LINQ
    /// version allocated five objects per call, about 4 % of a busy holder's CPU.
    /// </summary>
    private long QuorumValue(Func<Progress, long> value, long own)
    {
        var voters = Voters;
        var count = voters.Voters.Count;
        if (count == 0) return 0;
        Span<long> values = count <= 16 ? stackalloc long[count] : new long[count];
        for (var i = 0; i < count; i++)
        {
            var v = voters.Voters[i];
            var x = v == Self ? own : _progress.TryGetValue(v, out var p) ? value(p) : 0;
            // Insertion sort, ascending: a handful of voters.
            var j = i;
            for (; j > 0 && values[j - 1] > x; j--) values[j] = values[j - 1];
            values[j] = x;
        }
        // Ascending: the quorum-th highest is that many places from the end.
        return values[count - voters.Quorum];
    }
}
