using System.Collections.Concurrent;
using System.Diagnostics;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;

namespace DinoMesh.Cluster.Node;

/// <summary>
/// The PeerIds allowed to talk to this node: every peer admitted through a valid join credential, directly or as
/// reported by another member over an authenticated link, and every member the applied log names. Answers the
/// transport on every request, so lock-free. It also knows the log version through which it holds every admission
/// (<see cref="KnownThrough"/>), so a peer presenting a later admission is waited for, not refused
/// (<see cref="CheckAsync"/>, <see cref="AdmissionRule"/>).
/// </summary>
public sealed class AdmittedPeers : IAdmission
{
    /// <summary>How long a check waits for this node's log to reach the version a peer presents.</summary>
    public static readonly TimeSpan DefaultCatchUpWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a check waits while this node knows no admission at all (<see cref="KnownThrough"/> is 0): a newcomer
    /// whose join answer is on its way, which the holder's first appends can overtake on a loaded machine.
    /// </summary>
    public static readonly TimeSpan DefaultFirstAnswerWait = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<PeerId, string> _peers = new();
    private readonly ConcurrentDictionary<PeerId, bool> _evicted = new();
    private readonly TimeSpan _catchUpWait;
    private readonly TimeSpan _firstAnswerWait;
    private long _knownThrough;
    // The checks waiting, ordered by the version each waits for: applying version v wakes only those at or below v, so
    // a crowd of strangers presenting far versions costs nothing per applied entry. _waiters is their count, read
    // without the lock by Advance's fast path.
    private readonly Lock _waitGate = new();
    private readonly SortedSet<Waiter> _waiting = new(Waiter.ByVersion);
    private long _nextWaiter;
    private int _waiters;
    private long _wakes;
    // The IPs members are known at (IsMemberAddress), rebuilt on the first question after a change of _peers.
    private int _peersChanged;
    private AddressSet _memberAddresses = new(-1, []);

    public AdmittedPeers(IEnumerable<KnownPeer> known, TimeSpan? catchUpWait = null, TimeSpan? firstAnswerWait = null)
    {
        foreach (var peer in known)
        {
            if (PeerId.TryParse(peer.Id, out var id)) _peers[id] = peer.Address;
        }
        _catchUpWait = catchUpWait ?? DefaultCatchUpWait;
        _firstAnswerWait = firstAnswerWait ?? DefaultFirstAnswerWait;
    }

    public bool IsAdmitted(PeerId peer) => _peers.ContainsKey(peer) && !_evicted.ContainsKey(peer);

    /// <summary>
    /// True when an admitted member advertises <paramref name="address"/> (an IP literal; a member known by a host
    /// name counts nowhere). The transport counts such a connection's handshake apart from strangers' (see
    /// <see cref="IAdmission.IsMemberAddress"/>).
    /// </summary>
    public bool IsMemberAddress(System.Net.IPAddress address)
    {
        var changes = Volatile.Read(ref _peersChanged);
        var known = Volatile.Read(ref _memberAddresses);
        if (known.Changes != changes)
        {
            // Built from the peers as they are now, which includes at least every change counted so far.
            var addresses = new HashSet<System.Net.IPAddress>();
            foreach (var (_, advertised) in _peers)
            {
                if (System.Net.IPEndPoint.TryParse(advertised, out var endpoint)) addresses.Add(endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address);
            }
            known = new AddressSet(changes, addresses);
            Volatile.Write(ref _memberAddresses, known);
        }
        return known.Addresses.Contains(address);
    }

    /// <summary>
    /// Told the version a check waits for, when one starts waiting: the node pulls the missing log entries at once
    /// (queued to the thread pool, so the check's caller never runs lease code). Null: the log catches up on its own.
    /// </summary>
    public Action<long>? Behind { get; set; }

    /// <summary>True for a member removed from the cluster (the log says so): refused, and never admitted again.</summary>
    public bool IsEvicted(PeerId peer) => _evicted.ContainsKey(peer);

    /// <summary>
    /// The highest log version through which every admission is in this set: the version this node's log applied (its
    /// members are admitted before this moves), or for a newcomer the version its join answer was given at.
    /// </summary>
    public long KnownThrough => Interlocked.Read(ref _knownThrough);

    /// <summary>
    /// Every admission up to <paramref name="version"/> is in this set now (the caller admitted them first). Never goes
    /// back. Cheap when nobody waits: called for every applied log entry.
    /// </summary>
    public void Advance(long version)
    {
        var known = Interlocked.Read(ref _knownThrough);
        while (version > known)
        {
            var seen = Interlocked.CompareExchange(ref _knownThrough, version, known);
            if (seen == known)
            {
                WakeThrough(version);
                return;
            }
            known = seen;
        }
    }

    /// <summary>Removes <paramref name="peer"/> for good; true when it was not evicted before.</summary>
    public bool Evict(PeerId peer)
    {
        _peers.TryRemove(peer, out _);
        Interlocked.Increment(ref _peersChanged);
        var first = _evicted.TryAdd(peer, true);
        if (first) WakePeer(peer);
        return first;
    }

    public string? AddressOf(PeerId peer) => _peers.GetValueOrDefault(peer);

    /// <summary>
    /// Admits <paramref name="peer"/> or updates its address; true when something changed. With
    /// <paramref name="keepKnownAddress"/> a peer already admitted keeps its address: a list relayed by another member
    /// may be older than what membership told us.
    /// </summary>
    public bool Admit(PeerId peer, string address, bool keepKnownAddress = false)
    {
        if (peer.IsEmpty || _evicted.ContainsKey(peer)) return false;
        var changed = false;
        var added = false;
        _peers.AddOrUpdate(peer, _ => { changed = added = true; return address; }, (_, old) =>
        {
            if (keepKnownAddress || old == address || string.IsNullOrEmpty(address)) return old;
            changed = true;
            return address;
        });
        if (changed) Interlocked.Increment(ref _peersChanged);
        if (added) WakePeer(peer);
        return changed;
    }

    public IReadOnlyList<KnownPeer> Snapshot() =>
        [.. _peers.Select(p => new KnownPeer(p.Key.Hex, p.Value)).OrderBy(p => p.Id, StringComparer.Ordinal)];

    /// <summary>
    /// Admitted now: yes. Not admitted, presenting a version this node knows through (or none): refused at once. Not
    /// admitted, presenting a later version: waits until the peer is admitted (by the log reaching that version, or by
    /// any other path) or this node knows through that version without it, at most the catch-up wait, then refuses
    /// with the reason. The wait holds no thread; cancelling <paramref name="ct"/> (the connection closed) refuses.
    /// </summary>
    public async ValueTask<AdmissionVerdict> CheckAsync(PeerId peer, long presentedVersion, CancellationToken ct)
    {
        var first = Step(peer, presentedVersion, timeLeft: true);
        if (first != AdmissionStep.Wait) return Verdict(first, presentedVersion, null);
        var started = Stopwatch.GetTimestamp();
        var wait = KnownThrough == 0 ? _firstAnswerWait : _catchUpWait;
        if (Behind is { } behind) ThreadPool.UnsafeQueueUserWorkItem(static state => state.behind(state.presentedVersion), (behind, presentedVersion), preferLocal: false);
        var waiter = Enlist(peer, presentedVersion);
        try
        {
            while (true)
            {
                // Read after the waiter is enlisted: a change after the read wakes it, so none is missed.
                var left = wait - Stopwatch.GetElapsedTime(started);
                var step = Step(peer, presentedVersion, left > TimeSpan.Zero);
                if (step != AdmissionStep.Wait) return Verdict(step, presentedVersion, wait);
                // Woken yet undecided (not reached: a wake decides): wait again, enlisted anew.
                if (waiter.Woken.Task.IsCompleted) waiter = Enlist(peer, presentedVersion);
                try
                {
                    await waiter.Woken.Task.WaitAsync(left, ct);
                }
                catch (TimeoutException)
                {
                }
                catch (OperationCanceledException)
                {
                    return AdmissionVerdict.No(AdmissionVerdict.NotAdmitted + " (the connection closed while this node's log caught up)");
                }
            }
        }
        finally
        {
            Withdraw(waiter);
        }
    }

    /// <summary>
    /// Waiting checks woken to look again, since the start: by the log reaching the version a check waits for, or by a
    /// change of its peer's membership (admitted, evicted). Each costs a continuation on the thread pool.
    /// </summary>
    public long Wakes => Interlocked.Read(ref _wakes);

    private AdmissionStep Step(PeerId peer, long presented, bool timeLeft) =>
        AdmissionRule.Decide(IsAdmitted(peer), IsEvicted(peer), presented, KnownThrough, timeLeft);

    private AdmissionVerdict Verdict(AdmissionStep step, long presented, TimeSpan? waited) => step switch
    {
        AdmissionStep.Admit => AdmissionVerdict.Yes,
        _ when waited is { } w && presented > KnownThrough =>
            AdmissionVerdict.No($"{AdmissionVerdict.NotAdmitted} (this node's log did not reach the version the peer was admitted at within {w.TotalSeconds:0.#} s)"),
        _ => AdmissionVerdict.No(AdmissionVerdict.NotAdmitted),
    };

    private Waiter Enlist(PeerId peer, long version)
    {
        var waiter = new Waiter(peer, version, Interlocked.Increment(ref _nextWaiter));
        lock (_waitGate)
        {
            _waiting.Add(waiter);
            // Interlocked: orders the count before the caller's next read of the state (see WakeThrough).
            Interlocked.Increment(ref _waiters);
        }
        return waiter;
    }

    private void Withdraw(Waiter waiter)
    {
        lock (_waitGate)
        {
            if (_waiting.Remove(waiter)) Interlocked.Decrement(ref _waiters);
        }
    }

    /// <summary>Wakes the checks waiting for a version up to <paramref name="version"/>, which this node now knows through.</summary>
    private void WakeThrough(long version)
    {
        // Interlocked read after the caller's interlocked write of _knownThrough: a check enlisted after this read
        // reads the new version itself.
        if (Interlocked.CompareExchange(ref _waiters, 0, 0) == 0) return;
        lock (_waitGate)
        {
            while (_waiting.Count > 0 && _waiting.Min!.Version <= version)
            {
                var waiter = _waiting.Min;
                _waiting.Remove(waiter);
                Wake(waiter);
            }
        }
    }

    /// <summary>Wakes the checks of <paramref name="peer"/>, just admitted or evicted (rare: a scan will do).</summary>
    private void WakePeer(PeerId peer)
    {
        if (Interlocked.CompareExchange(ref _waiters, 0, 0) == 0) return;
        lock (_waitGate)
        {
            var decided = _waiting.Where(w => w.Peer == peer).ToList();
            foreach (var waiter in decided)
            {
                _waiting.Remove(waiter);
                Wake(waiter);
            }
        }
    }

    private void Wake(Waiter waiter)
    {
        Interlocked.Decrement(ref _waiters);
        Interlocked.Increment(ref _wakes);
        waiter.Woken.TrySetResult();
    }

    /// <summary>A check waiting for the log to reach <see cref="Version"/>; <see cref="Sequence"/> tells apart those waiting for the same one.</summary>
    private sealed class Waiter(PeerId peer, long version, long sequence)
    {
        public static readonly IComparer<Waiter> ByVersion = Comparer<Waiter>.Create(static (a, b) =>
            a.Version != b.Version ? a.Version.CompareTo(b.Version) : a.Sequence.CompareTo(b.Sequence));

        public PeerId Peer { get; } = peer;
        public long Version { get; } = version;
        public long Sequence { get; } = sequence;
        public TaskCompletionSource Woken { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record AddressSet(int Changes, HashSet<System.Net.IPAddress> Addresses);
}
