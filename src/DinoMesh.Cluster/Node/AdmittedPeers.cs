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
    private int _waiters;
    // The IPs members are known at (IsMemberAddress), rebuilt on the first question after a change of _peers.
    private int _peersChanged;
    private AddressSet _memberAddresses = new(-1, []);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

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
                Signal();
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
        if (first) Signal();
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
        if (added) Signal();
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
        Interlocked.Increment(ref _waiters);
        try
        {
            while (true)
            {
                // Taken before the state is read: a change after the read completes this task, so none is missed.
                var changed = Volatile.Read(ref _changed).Task;
                var left = wait - Stopwatch.GetElapsedTime(started);
                var step = Step(peer, presentedVersion, left > TimeSpan.Zero);
                if (step != AdmissionStep.Wait) return Verdict(step, presentedVersion, wait);
                try
                {
                    await changed.WaitAsync(left, ct);
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
            Interlocked.Decrement(ref _waiters);
        }
    }

    private AdmissionStep Step(PeerId peer, long presented, bool timeLeft) =>
        AdmissionRule.Decide(IsAdmitted(peer), IsEvicted(peer), presented, KnownThrough, timeLeft);

    private AdmissionVerdict Verdict(AdmissionStep step, long presented, TimeSpan? waited) => step switch
    {
        AdmissionStep.Admit => AdmissionVerdict.Yes,
        _ when waited is { } w && presented > KnownThrough =>
            AdmissionVerdict.No($"{AdmissionVerdict.NotAdmitted} (this node's log did not reach the version the peer was admitted at within {w.TotalSeconds:0.#} s)"),
        _ => AdmissionVerdict.No(AdmissionVerdict.NotAdmitted),
    };

    // Wakes every waiting check to look again. Interlocked reads order the caller's change before the waiter count.
    private void Signal()
    {
        if (Interlocked.CompareExchange(ref _waiters, 0, 0) == 0) return;
        var old = Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        old.TrySetResult();
    }

    private sealed record AddressSet(int Changes, HashSet<System.Net.IPAddress> Addresses);
}
