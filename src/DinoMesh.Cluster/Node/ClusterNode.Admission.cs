using DinoMesh.Cluster.Membership;
using DinoMesh.Core.Identity;
using DinoMesh.Transport;
using DinoMesh.Transport.Join;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Node;

// Admission: who becomes a member, and how the others learn it.
public sealed partial class ClusterNode
{
    /// <summary>
    /// Commits a newcomer's admission into the metadata log and reports the version it got, with the log's members
    /// at that version or later. Set by the node once its log runs; null (or a null answer) means no commit could be
    /// had, and a join is then admitted the old way (see <see cref="AdmitAsync"/>).
    /// </summary>
    public Func<PeerId, string, CancellationToken, Task<CommittedAdmission?>>? CommitAdmission { get; set; }

    /// <summary>
    /// A newcomer showed a valid credential: admit it, in one step. Its admission is committed to the log first, and
    /// the answer carries that version and every member admitted up to it (this node's admitted set, which holds the
    /// log's members, and the log's members themselves). The newcomer then knows every member that may dial it, and
    /// presents the version to every member it dials: one whose log is behind waits for the log instead of refusing
    /// (<see cref="AdmittedPeers.CheckAsync"/>). So nobody has to be told before the answer leaves, and a crowd of
    /// newcomers does not wait on each other. Without a log to commit to (the node is still starting), it is admitted
    /// as before: every member is sent an admit notice, and the answer waits for those membership knows reachable.
    /// </summary>
    private async ValueTask<JoinDecision> AdmitAsync(JoinApplicant applicant, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(applicant.Advertise)) return JoinDecision.Refuse("the joiner did not say where it can be reached (--advertise)");
        if (Admitted.IsEvicted(applicant.Peer)) return JoinDecision.Refuse("this node was removed from the cluster (dino-node remove); start it with a new data directory to join again");
        Admitted.Admit(applicant.Peer, applicant.Advertise);
        PersistPeers();

        var committed = CommitAdmission is { } commit ? await WithinAsync(commit(applicant.Peer, applicant.Advertise, cancellationToken), _options.AdmissionWait) : null;
        if (committed is null)
        {
            // No log to commit to yet, or a commit slower than AdmissionWait (no majority for a while, a loaded
            // machine): the newcomer is not kept waiting past its join deadline; it is admitted as before, and the
            // commit, if one is on its way, still lands (the holder also proposes admitted peers the log lacks).
            _logger.LogInformation("admitted {Peer} at {Address} (joined with a valid credential; not yet in the log: telling every member)", applicant.Peer, applicant.Advertise);
            await SpreadAdmissionAsync(applicant.Peer, cancellationToken);
        }
        else
        {
            foreach (var (peer, address) in committed.Members) Admitted.Admit(peer, address, keepKnownAddress: true);
            _logger.LogInformation("admitted {Peer} at {Address} (joined with a valid credential; committed at version {Version})", applicant.Peer, applicant.Advertise, committed.Version);
        }

        var members = Admitted.Snapshot()
            .Where(p => PeerId.TryParse(p.Id, out _))
            .Select(p => new ClusterMemberInfo(new PeerId(p.Id), p.Address))
            .ToList();
        return JoinDecision.Admit(members, [.. _record.Founders.Select(f => new PeerId(f))], committed?.Version ?? 0);
    }

    /// <summary>The commit's answer, or null when it has not come within <paramref name="limit"/> (it goes on unobserved).</summary>
    private static async Task<CommittedAdmission?> WithinAsync(Task<CommittedAdmission?> commit, TimeSpan limit)
    {
        if (await Task.WhenAny(commit, Task.Delay(limit)) == commit) return await commit;
        _ = commit.ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
        return null;
    }

    /// <summary>
    /// Sends the whole admitted set to every admitted peer but this node and the newcomer, except members known to be
    /// dead or gone. Members that membership knows as reachable may be dialled by the newcomer as soon as it is in, so
    /// the answer waits (at most ClusterOptions.AdmissionWait) until they have taken it. Peers admitted but not yet seen in
    /// membership are still joining themselves: they cannot accept a notice from us until their own join answer
    /// arrives (and a crowd of simultaneous joiners waiting on each other would time out), so they are told in the
    /// background. A refused or lost notice is sent again with growing pauses.
    /// </summary>
    private async Task SpreadAdmissionAsync(PeerId newcomer, CancellationToken cancellationToken)
    {
        var peers = Admitted.Snapshot()
            .Where(p => PeerId.TryParse(p.Id, out _) && !string.IsNullOrEmpty(p.Address))
            .Select(p => (Peer: new PeerId(p.Id), p.Address))
            .ToList();
        var body = PeerInput.Encode(AdmitNotice.Of(peers));
        var status = Membership.Members.ToDictionary(m => m.Id, m => m.IsReachable);
        var targets = peers.Where(p => p.Peer != Self && p.Peer != newcomer && status.GetValueOrDefault(p.Peer, true)).ToList();
        if (targets.Count == 0) return;
        var sends = targets.Select(t => (t.Peer, Task: NotifyAsync(t.Peer, t.Address, body))).ToList();
        var members = sends.Where(s => status.ContainsKey(s.Peer)).Select(s => s.Task).ToList();
        try
        {
            await Task.WhenAll(members).WaitAsync(_options.AdmissionWait, cancellationToken);
        }
        catch (TimeoutException)
        {
            _logger.LogInformation("{Pending} of {Count} members have not yet taken the admission of {Peer}; still trying in the background",
                members.Count(t => !t.IsCompleted), members.Count, newcomer);
        }
        catch (OperationCanceledException)
        {
        }
    }

    // Pauses between attempts: the first retry comes quickly (the usual case is a member that is a moment away from
    // knowing us), later ones back off; about 30 s in all.
    private static readonly TimeSpan[] NoticeRetries = [TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(15)];

    private async Task<bool> NotifyAsync(PeerId peer, string address, byte[] body)
    {
        var stopping = _stopping.Token;
        for (var attempt = 0; ; attempt++)
        {
            // Idempotent: admitting a peer that is already admitted changes nothing.
            var result = await Transport.CallAsync(address, peer, AdmitProtocol, body, _options.AdmissionWait, stopping, idempotent: true);
            if (result.Ok) return true;
            if (attempt == NoticeRetries.Length || stopping.IsCancellationRequested || Membership.Members.Any(m => m.Id == peer && !m.IsReachable))
            {
                _logger.LogWarning("{Peer} at {Address} did not take an admit notice ({Failure}); it learns the newcomers from gossip", peer, address, result.Failure);
                return false;
            }
            try
            {
                await Task.Delay(NoticeRetries[attempt], stopping);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }

    private byte[] HandleAdmit(PeerContext from, ReadOnlyMemory<byte> body)
    {
        if (!AdmitNotice.TryDecode(body, out var peers, out var error))
        {
            throw new PeerCallException(CallFailure.BadRequest, $"invalid admit notice: {error}");
        }
        var changed = false;
        foreach (var (id, address) in peers)
        {
            if (id == Self) continue;
            if (Admitted.Admit(id, address, keepKnownAddress: true))
            {
                changed = true;
                _logger.LogInformation("{From} admitted {Peer} at {Address}", from.Peer, id, address);
            }
        }
        if (changed) PersistPeers();
        return [];
    }

    private void OnMemberEvent(MemberEvent e)
    {
        var m = e.Member;
        ClusterMetrics.MemberEvent(e.Kind);
        switch (e.Kind)
        {
            case MemberEventKind.Joined:
                _logger.LogInformation("member {Peer} at {Address} is alive (incarnation {Incarnation})", m.Id, m.Address, m.Incarnation);
                break;
            case MemberEventKind.Suspected:
                _logger.LogWarning("member {Peer} at {Address} is suspected (no answer to direct or indirect probes)", m.Id, m.Address);
                break;
            case MemberEventKind.Refuted:
                _logger.LogInformation("member {Peer} refuted the suspicion (incarnation {Incarnation})", m.Id, m.Incarnation);
                break;
            case MemberEventKind.Dead:
                _logger.LogWarning("member {Peer} at {Address} is dead (suspicion not refuted in time)", m.Id, m.Address);
                break;
            case MemberEventKind.Left:
                _logger.LogInformation("member {Peer} at {Address} left the cluster", m.Id, m.Address);
                break;
        }
        // Membership news arrives only over authenticated links from admitted members, so a member they vouch for is admitted.
        if (e.Kind is MemberEventKind.Joined or MemberEventKind.Updated && m.Id != Self && Admitted.Admit(m.Id, m.Address)) PersistPeers();
    }

    // Saving cluster.json means a write and an fsync, which can take seconds on a busy disk. Done inline, under a lock,
    // on the thread that handles a join or a membership event, a burst of joins blocked the thread pool until Kestrel
    // starved. So callers only ask for a save; one background task writes the latest admitted set, coalescing bursts.
    // The set is in memory (and known to the other members) at once; the file follows within one save.
    private void PersistPeers()
    {
        Interlocked.Exchange(ref _peersDirty, 1);
        if (_saveSignal.CurrentCount == 0)
        {
            try
            {
                _saveSignal.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    private async Task SavePeersLoopAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _saveSignal.WaitAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            SavePeersIfDirty();
        }
        SavePeersIfDirty();
    }

    private void SavePeersIfDirty()
    {
        if (Interlocked.Exchange(ref _peersDirty, 0) == 0) return;
        ClusterRecord record;
        lock (_recordGate)
        {
            _record = _record with { Peers = Admitted.Snapshot() };
            record = _record;
        }
        try
        {
            record.Save(_options.DataDirectory);
        }
        catch (IOException e)
        {
            _logger.LogError("could not save {File}: {Error}", ClusterRecord.FileName, e.Message);
        }
    }

    /// <summary>Announces that this node leaves (it will be listed as left, never suspected).</summary>
    public Task LeaveAsync(CancellationToken cancellationToken) =>
        Membership.LeaveAsync(Membership.Members.Count > 1 ? Membership.Self is { } ? _options.Membership.ProbeInterval * 2 : TimeSpan.Zero : TimeSpan.Zero, cancellationToken);
}
