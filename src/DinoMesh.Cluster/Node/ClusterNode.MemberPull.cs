using DinoMesh.Core.Identity;
using DinoMesh.Transport;
using Microsoft.Extensions.Logging;

namespace DinoMesh.Cluster.Node;

// Catching up on admissions: a peer presented its admission at a version this node has not reached yet. The log
// brings it in time (the holder's appends), but a newcomer's log may take many seconds to arrive on a loaded machine,
// while the holder has every admission now: ask it for its admitted set.
public sealed partial class ClusterNode
{
    /// <summary>A member asks another (the holder) for its admitted set and the version it holds it through.</summary>
    public const string MembersProtocol = "/dinomesh/members/1";

    private static readonly TimeSpan MemberPullDeadline = TimeSpan.FromSeconds(2);

    private int _pullingMembers;
    private long _membersWanted;
    private PeerId _joinedThrough;

    /// <summary>The lease holder as this node's lease knows it (empty when none is). Set by the node once its lease runs.</summary>
    public Func<PeerId>? HolderForMembers { get; set; }

    private byte[] HandleMembers(PeerContext from, ReadOnlyMemory<byte> body)
    {
        if (!PeerInput.TryDecode<MemberSetQuestion>(body, MemberSetQuestion.MaxBytes, out _, out var error))
        {
            throw new PeerCallException(CallFailure.BadRequest, $"invalid member-set question: {error}");
        }
        // The version first: the set, read after it, holds every admission through it (it only moves once they are in).
        var knownThrough = Admitted.KnownThrough;
        var peers = Admitted.Snapshot()
            .Where(p => PeerId.TryParse(p.Id, out _) && !string.IsNullOrEmpty(p.Address))
            .Select(p => new AdmittedPeer(new PeerId(p.Id).ToBytes(), p.Address))
            .ToArray();
        return PeerInput.Encode(new MemberSetAnswer(peers, knownThrough));
    }

    /// <summary>
    /// A check waits for <paramref name="wanted"/>: one member-set question at a time, to the holder, else the member
    /// this node joined through, else any admitted member. Never throws; a failed question is only logged, and the
    /// check goes on waiting for the log.
    /// </summary>
    private async Task PullMembersAsync(long wanted)
    {
        // One question at a time; a check that starts waiting while one is out asks for one more after it, since the
        // answer on its way may predate the admission it waits for.
        Volatile.Write(ref _membersWanted, Math.Max(Volatile.Read(ref _membersWanted), wanted));
        // Whoever takes the flag asks until nothing is wanted; one that finds it taken leaves its wish behind, and the
        // holder looks again after letting the flag go, so no wish is left unasked.
        while (Volatile.Read(ref _membersWanted) > 0 && Interlocked.Exchange(ref _pullingMembers, 1) == 0)
        {
            try
            {
                while (Interlocked.Exchange(ref _membersWanted, 0) is > 0 and var next)
                {
                    if (next > Admitted.KnownThrough) await AskForMembersAsync(next);
                }
            }
            finally
            {
                Volatile.Write(ref _pullingMembers, 0);
            }
        }
    }

    private async Task AskForMembersAsync(long wanted)
    {
        try
        {
            var (peer, address) = MemberPullTarget();
            if (peer.IsEmpty || address is null) return;
            var result = await Transport.CallAsync(address, peer, MembersProtocol, PeerInput.Encode(new MemberSetQuestion(wanted)), MemberPullDeadline,
                _stopping.Token, MemberSetAnswer.MaxBytes, idempotent: true);
            if (!result.Ok)
            {
                _logger.LogDebug("member set from {Peer}: {Failure} ({Detail})", peer, result.Failure, result.Detail);
                return;
            }
            if (!MemberSetAnswer.TryDecode(result.Value!, out var answer, out var peers, out var error))
            {
                _logger.LogWarning("{Peer} answered an invalid member set: {Error}", peer, error);
                return;
            }
            var changed = false;
            foreach (var (id, at) in peers)
            {
                if (id != Self && Admitted.Admit(id, at, keepKnownAddress: true)) changed = true;
            }
            if (changed) PersistPeers();
            Admitted.Advance(answer.KnownThrough);
            _logger.LogDebug("member set from {Peer} through version {Version} (wanted {Wanted})", peer, answer.KnownThrough, wanted);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private (PeerId Peer, string? Address) MemberPullTarget()
    {
        foreach (var candidate in new[] { HolderForMembers?.Invoke() ?? default, _joinedThrough })
        {
            if (!candidate.IsEmpty && candidate != Self && Admitted.AddressOf(candidate) is { Length: > 0 } address) return (candidate, address);
        }
        var others = Admitted.Snapshot().Where(p => p.Id != Self.Hex && !string.IsNullOrEmpty(p.Address) && PeerId.TryParse(p.Id, out _)).ToList();
        if (others.Count == 0) return (default, null);
        var any = others[Random.Shared.Next(others.Count)];
        return (new PeerId(any.Id), any.Address);
    }
}
