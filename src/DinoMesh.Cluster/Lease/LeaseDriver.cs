using DinoMesh.Core.Identity;
using DinoMesh.Core.Metadata;
using DinoMesh.Core.Wire;
using DinoMesh.Storage.Metadata;
using DinoMesh.Storage.Replica;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Lease;

/// <summary>Timing of the lease on a real clock.</summary>
public sealed record LeaseTiming
{
    /// <summary>One machine tick: heartbeats every 3 ticks (150 ms); an election after 12–24 silent ticks (0.6–1.2 s).</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromMilliseconds(50);

    public LeaseConfig Machine { get; init; } = LeaseConfig.Default;

    /// <summary>
    /// How long the holder may hold back a commit notice for a follower that does not wait for it, hoping to send it
    /// with the next append (LeaseLog.Notices.cs). With one writer the next append usually follows within a few hundred
    /// microseconds, so a commit costs two calls instead of four; a change made on one node is then seen on another at
    /// most this much later (rounded up to the driver clock's next whole millisecond), as on a deferred follower
    /// (<see cref="DeferredAppendDelay"/>): a fifth of the 10 ms propagation floor (p99) of issue 9. Not 1 ms: on a
    /// loaded two-core machine the writer's next change came more than 1-2 ms after a commit often enough that a fifth
    /// of the held notices went alone, each an extra call that the next append then queued behind (the runtime timer
    /// that kept the deadline before the timerfd added a wake-up's latency that hid this); with 2 ms, 1.05 notices per
    /// commit ride on appends against 0.80 (docs/benchmarks.md). Stalls of the writer longer than that still send some
    /// alone, and in bursts still stop the notice policy now and then.
    /// </summary>
    public TimeSpan CommitNoticeDelay { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// How long the holder may hold back appends to a follower the majority does not need, to send them with the next
    /// ones in one message (LeaseLog.QuorumFirst.cs); their commit notices wait with them. It is also how much later a
    /// commit comes when the quick voters fail to answer (the deferred ones then make the majority), and how much later
    /// such a follower applies a change nobody there waits for: a fifth of the 10 ms propagation floor (p99) of issue 9.
    /// </summary>
    public TimeSpan DeferredAppendDelay { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>How long a mutation may wait for a holder and a majority before it fails with ETIMEDOUT.</summary>
    public TimeSpan CommitTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Runs the lease machine (<see cref="LeaseLog"/>) on this node's log, clock and network. Every input — a tick, a
/// message, a proposal — goes into the machine under one lock, and its output is acted on at once in the order the
/// machine demands: hard state (fsynced), snapshot pieces received (to a temp file), snapshot, truncation, appends, log
/// sync, then messages; snapshot pieces to send are read from the holder's snapshot file after the lock. Applying committed
/// entries to the replica happens after the lock is released, so what the volume does on an applied entry (it may
/// propose again) never runs inside the machine.
/// </summary>
public sealed partial class LeaseDriver : IAsyncDisposable
{
    // Where term, vote and commit were kept before lease.vote existed: read once from data directories of that time.
    private const string TermKey = "lease-term", VoteKey = "lease-vote", CommitKey = "lease-commit";

    private readonly Lock _gate = new();
    private readonly MetadataReplica _replica;
    private readonly MetadataLog _log;
    private readonly LogStoreView _view;
    private readonly ILeaseNetwork _network;
    private readonly LeaseTiming _timing;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<(long Version, TaskCompletionSource<FsError> Done, long Deadline)> _syncWaiters = [];
    private readonly OutgoingSnapshot _outgoing;
    private readonly SnapshotAssembler _assembler;
    private LeaseLog _machine = null!;
    private Task _ticker = Task.CompletedTask;
    private FileSystemState? _tip;
    // The tip's results for entries not applied yet, so the replica does not apply them a second time at commit.
    private readonly AppliedAhead _ahead = new();
    private long _tipTerm = -1;
    private long _persistedCommit;
    private long _life;
    private LeaseRole _lastRole;
    private PeerId _lastHolder;
    // Why acting on the machine's output failed, once it has: from then on the driver does nothing (fail-stop).
    private Exception? _failure;
    private int _failureAnnounced;
    // Set while a call's messages are handled: what the machine says to that caller goes back in the call's answer.
    private (PeerId Peer, List<LeaseMessage> Messages)? _answerTo;
    // AfterProcess as a delegate made once: a call's answer hands it to the transport to run after the answer left.
    private readonly Action _afterProcess;

    public LeaseDriver(PeerId self, MetadataReplica replica, ILeaseNetwork network, LeaseTiming timing, ILogger logger)
        : this(self, replica, network, timing, logger, HoldBackClocks.Create)
    {
    }

    /// <summary>A driver whose hold-back deadlines run on the given clock (tests run it on a clock they move by hand).</summary>
    internal LeaseDriver(PeerId self, MetadataReplica replica, ILeaseNetwork network, LeaseTiming timing, ILogger logger,
        HoldBackClockFactory holdBackClock)
    {
        _holdBackClock = holdBackClock(OnHoldBackDue);
        _afterProcess = AfterProcess;
        Self = self;
        _replica = replica;
        _log = replica.Log;
        _view = new LogStoreView(_log);
        _network = network;
        _timing = timing;
        _logger = logger;
        NoopPayload = MutationCodec.Encode(new Mutation { Kind = new Noop(), Proposer = self });
        // Snapshot transfers in either direction keep their bytes in files next to the log.
        SnapshotDirectory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(_log.Path)) ?? ".";
        _outgoing = new OutgoingSnapshot(SnapshotDirectory);
        _assembler = new SnapshotAssembler(SnapshotDirectory);
    }

    /// <summary>Where snapshot transfers keep their temp files (the log's directory).</summary>
    public string SnapshotDirectory { get; }

    public PeerId Self { get; }

    public LeaseTiming Timing => _timing;

    /// <summary>
    /// Committed entries the replica took from the tip's results instead of applying them a second time (diagnostics,
    /// tests).
    /// </summary>
    public long AppliedOnce => _ahead.Reused;

    /// <summary>The entry a new holder commits first.</summary>
    private byte[] NoopPayload { get; }

    /// <summary>
    /// Raised once (outside the lock) when acting on the machine's output failed (a log append or sync that threw: a
    /// disk error, a disk full beyond the reserve). The machine cannot go on from a half-done round, and guessing which
    /// parts reached the disk could acknowledge what is not there, so the driver stops; the node should exit and be
    /// restarted, when the log on disk is the truth again.
    /// </summary>
    public event Action<Exception>? Failed;

    /// <summary>True once acting on the machine's output failed (see <see cref="Failed"/>).</summary>
    public bool HasFailed => Volatile.Read(ref _failure) is not null;

    /// <summary>
    /// Raised (outside the lock) after a round applied committed entries, once the replica has raised
    /// <see cref="MetadataReplica.Applied"/> for every one of them: what a listener does here (answer a waiting caller,
    /// who may propose again) cannot come between the replica's events, which stay in version order.
    /// </summary>
    public event Action? AppliedRound;

    /// <summary>Raised (outside the lock) when this node gains or loses the lease, or learns of a new holder.</summary>
    public event Action<LeaseRole, PeerId>? HolderChanged;

    /// <summary>A consistent copy of what the machine knows, for status and peers.</summary>
    public LeaseStatus Status
    {
        get
        {
            lock (_gate)
            {
                AdvanceLocked();
                return new LeaseStatus(_machine.Role, _machine.Term, _machine.Holder, _machine.Commit, _replica.Current.Version,
                    _machine.LastVersion, _machine.Voters.Voters, _machine.Matches,
                    _machine.HolderLost, _machine.IdleLease, _machine.InQuorum, _machine.Learners);
            }
        }
    }

    /// <summary>
    /// Who holds the lease, the commit version and whether the holder lost its majority: what a commit, a read barrier
    /// and an fsync ask on every call. Unlike <see cref="Status"/> it copies neither the voters nor the followers'
    /// matches (a dictionary per call, read twice per small file on the holder).
    /// </summary>
    public LeaseGlance Glance
    {
        get
        {
            lock (_gate)
            {
                AdvanceLocked();
                return new LeaseGlance(_machine.Holder, _machine.Commit, _machine.HolderLost);
            }
        }
    }

    /// <summary>
    /// The holder's hold-back policies and the counts they judge by, for status and metrics. Apart from
    /// <see cref="Status"/>, which the committer reads on every commit: this is built only when someone looks.
    /// </summary>
    public LeaseHoldBack HoldBack
    {
        get
        {
            lock (_gate) return HoldBackLocked();
        }
    }

    /// <summary>
    /// Starts the machine from the log's durable term and vote and the replica's voters, and the tick loop. A node that
    /// is the only voter campaigns at once (a one-node cluster needs no election timeout).
    /// </summary>
    public void Start(IEnumerable<PeerId> members)
    {
        var hard = _log.LeaseVote is { } vote
            ? new HardState(vote.Term, vote.Vote.Length == 0 ? default : PeerId.FromBytes(vote.Vote), vote.Commit)
            : new HardState(ReadLong(TermKey), ReadVote(), ReadLong(CommitKey));
        _persistedCommit = hard.Commit;
        // A transfer a crash interrupted is of no use now (the holder starts it again): nothing of it was installed.
        if (SnapshotAssembler.RemoveLeftovers(SnapshotDirectory)) _logger.LogInformation("lease: removed a snapshot transfer's temp files left by the previous run");
        // Every start is a new life: recorded before the first answer, so a holder can tell a restarted follower
        // (whose unsynced log end a power cut may have taken) from a stale answer of its previous life.
        _life = (_log.LeaseVote?.Starts ?? 0) + 1;
        _log.RecordLeaseVote(new LeaseVote(hard.Term, hard.Vote.ToBytes(), hard.Commit, _life), sync: true);
        var state = _replica.Current;
        var voters = new VoterSet([.. state.Voters]);
        lock (_gate)
        {
            _machine = new LeaseLog(Self, _timing.Machine, new Random(), _view, hard, voters, state.Version, ConfigOf, NoopPayload, _life);
            _machine.SetMembers(members);
            StartClockLocked();
            if (voters.Voters is [var only] && only == Self) _machine.CampaignNow();
            ProcessLocked();
        }
        ApplyCommitted();
        _network.Flush();
        _ticker = Task.Run(() => TickLoopAsync(_stopping.Token));
        _logger.LogInformation("lease: started at term {Term}, log {Last}, commit {Commit}, voters {Voters}",
            hard.Term, _log.LastVersion, hard.Commit, string.Join(",", voters.Voters.Select(v => v.Short)));
    }

    /// <summary>
    /// The voter set after a log entry, given the one before it, if the entry changes it: a voter change, or the removal
    /// of a member that was voting.
    /// </summary>
    internal static VoterSet? ConfigOf(LogEntry entry, VoterSet before)
    {
        // Asked of every entry appended here: most are files' changes, told apart by their kind's tag without a decode.
        if (!MutationCodec.MayChangeVoters(entry.Payload)) return null;
        if (!MutationCodec.TryDecode(entry.Payload, out var mutation, out _)) return null;
        return mutation!.Kind switch
        {
            SetVoters v => new VoterSet(v.Voters),
            RemoveMember r when before.Contains(r.Member) && before.Voters.Count > 1 => new VoterSet([.. before.Voters.Where(p => p != r.Member)]),
            _ => null,
        };
    }

    private async Task TickLoopAsync(CancellationToken ct)
    {
        var sleep = TimeSpan.Zero;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // Woken at the machine's next acting tick, or earlier by an input that brought one forward.
                await _wake.WaitAsync(sleep, ct);
                try
                {
                    lock (_gate)
                    {
                        if (_failure is not null) return;
                        try
                        {
                            sleep = TickLocked();
                        }
                        catch (Exception e)
                        {
                            FailLocked(e);
                        }
                        ProcessLocked();
                    }
                    AfterProcess();
                    OnTick();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _logger.LogError(e, "lease: tick failed");
                    sleep = _timing.Tick;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Messages from <paramref name="from"/>.</summary>
    public void Receive(PeerId from, IReadOnlyList<LeaseMessage> messages)
    {
        lock (_gate)
        {
            // Before Start there is no machine yet: a message that early is lost, as on the wire (the sender repeats it).
            if (_failure is not null || _machine is null) return;
            try
            {
                AdvanceLocked();
                foreach (var message in messages) _machine.Step(from, message);
            }
            catch (Exception e)
            {
                FailLocked(e);
            }
            ProcessLocked();
        }
        AfterProcess();
    }

    /// <summary>
    /// Messages from <paramref name="from"/>, answered in the same call: whatever the machine has for the sender after
    /// handling them (an append's acknowledgement, a vote) is returned instead of queued, so a replication round costs
    /// one call, not one each way. Sent only after the entries they acknowledge are in the log, as queued ones are.
    /// (On a holder whose proposal's appends are being flushed at that moment, the round waits for the proposer's
    /// thread, and what it says to the sender is queued instead: see <see cref="Propose"/>.)
    /// The round's after-work (applying what is committed, sending to other peers) is done before this returns; see
    /// the overload with <c>afterAnswer</c> for the order the transport uses.
    /// </summary>
    public IReadOnlyList<LeaseMessage> ReceiveAndAnswer(PeerId from, IReadOnlyList<LeaseMessage> messages)
    {
        var answers = ReceiveAndAnswer(from, messages, out var afterAnswer);
        afterAnswer();
        return answers;
    }

    /// <summary>
    /// As <see cref="ReceiveAndAnswer(PeerId, IReadOnlyList{LeaseMessage})"/>, but the round's after-work is left to
    /// <paramref name="afterAnswer"/>, which the caller runs once the answers have left (the transport: on the same
    /// thread, right after writing them). What an answer says — entries in the log, synced, the term and vote durable —
    /// is all done before it is returned; applying the entries the round committed is not, and does not need to be:
    /// no answer says anything about this node's applied state, and nobody on this node waits for those entries before
    /// the apply (a proposer and a reader wait for the replica's announcement, which the apply makes). On a follower
    /// under one writer that apply (the previous change, whose commit rode on this append) was a fifth of the time from
    /// the append's arrival to its acknowledgement, on the commit's critical path (docs/benchmarks.md).
    /// </summary>
    public IReadOnlyList<LeaseMessage> ReceiveAndAnswer(PeerId from, IReadOnlyList<LeaseMessage> messages, out Action afterAnswer)
    {
        var answers = new List<LeaseMessage>();
        afterAnswer = _afterProcess;
        lock (_gate)
        {
            if (_failure is not null || _machine is null)
            {
                afterAnswer = Nothing;
                return answers;
            }
            _answerTo = (from, answers);
            try
            {
                AdvanceLocked();
                foreach (var message in messages) _machine.Step(from, message);
                ProcessLocked();
            }
            catch (Exception e)
            {
                FailLocked(e);
            }
            finally
            {
                _answerTo = null;
            }
            // A driver that failed answers nothing, not even what it had said before the failure in this call.
            if (_failure is not null) answers.Clear();
        }
        return answers;
    }

    private static void Nothing()
    {
    }

    /// <summary>The newest version this node recorded as committed (a restart replays its log up to here).</summary>
    public static long DurableCommit(MetadataLog log) =>
        log.LeaseVote?.Commit ?? (log.Get(CommitKey) is { Length: 8 } bytes ? BitConverter.ToInt64(bytes) : 0);

    /// <summary>
    /// Founds the volume: the genesis entry is version 1 of an empty log, committed by definition (it makes this node
    /// the only voter), and applied at once.
    /// </summary>
    public static void Found(MetadataReplica replica, Mutation genesis)
    {
        if (replica.Log.LastVersion != 0) throw new InvalidOperationException("only an empty log can be founded");
        replica.Log.Append(1, 0, MutationCodec.Encode(genesis));
        replica.Log.RecordLeaseVote(new LeaseVote(0, [], 1, 0), sync: true);
        replica.ApplyCommitted(1);
    }

    private long ReadLong(string key) => _log.Get(key) is { Length: 8 } bytes ? BitConverter.ToInt64(bytes) : 0;

    private PeerId ReadVote() => _log.Get(VoteKey) is { Length: 64 } bytes && PeerId.TryParse(System.Text.Encoding.ASCII.GetString(bytes), out var id) ? id : default;

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _ticker;
        await StopPreparingAsync();
        lock (_gate)
        {
            foreach (var (_, done, _) in _syncWaiters) done.TrySetResult(FsError.Io);
            _syncWaiters.Clear();
            PersistCommit(force: true);
            _assembler.Dispose();
        }
        // Outside the lock: the clock's thread may be waiting for it, and its disposal waits for that thread.
        _holdBackClock.Dispose();
        _outgoing.Dispose();
        _stopping.Dispose();
        _wake.Dispose();
    }
}

/// <summary>The part of <see cref="LeaseStatus"/> that a commit or a read barrier needs, without copies.</summary>
public readonly record struct LeaseGlance(PeerId Holder, long Commit, bool NoQuorum);

/// <summary>
/// What the lease machine knows, for `dino-node status`, `peers` and metrics. <see cref="NoQuorum"/> is a follower's
/// (no live holder heard); <see cref="Quorum"/> is any node's, the holder's included (see <see cref="LeaseLog.InQuorum"/>).
/// </summary>
public sealed record LeaseStatus(LeaseRole Role, long Term, PeerId Holder, long Commit, long Applied, long LastVersion,
    IReadOnlyList<PeerId> Voters, IReadOnlyDictionary<PeerId, long> Matches, bool NoQuorum, bool IdleLease = false,
    bool Quorum = false, int Learners = 0)
{
    /// <summary>On the holder: how far each follower is behind, its commit version minus the follower's match (0 when ahead).</summary>
    public IEnumerable<KeyValuePair<PeerId, long>> ReplicationLags =>
        Matches.Select(m => KeyValuePair.Create(m.Key, Math.Max(0, Commit - m.Value)));
}
