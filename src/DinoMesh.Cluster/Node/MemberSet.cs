using System.Diagnostics.CodeAnalysis;
using DinoMesh.Core.Identity;
using MessagePack;

namespace DinoMesh.Cluster.Node;

/// <summary>
/// <c>/dinomesh/members/1</c> request: a member that does not know a peer presenting its admission at
/// <see cref="Wanted"/> asks another member (the lease holder) for its admitted set. Keys are never reused.
/// </summary>
[MessagePackObject]
public sealed record MemberSetQuestion([property: Key(0)] long Wanted)
{
    public const int MaxBytes = 64;
}

/// <summary>
/// <c>/dinomesh/members/1</c> answer: the answering member's admitted set and the log version through which it holds
/// every admission (<see cref="AdmittedPeers.KnownThrough"/>, read before the set, so the set holds at least that).
/// The asker admits the peers and knows through that version from then on.
/// </summary>
[MessagePackObject]
public sealed record MemberSetAnswer([property: Key(0)] AdmittedPeer[] Peers, [property: Key(1)] long KnownThrough)
{
    /// <summary>Bound on an answer: the same as an admit notice's.</summary>
    public const int MaxBytes = AdmitNotice.MaxBytes;

    /// <summary>The answer's peers, validated as an admit notice's are, or the reason it is not acceptable.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> bytes, [NotNullWhen(true)] out MemberSetAnswer? answer,
        [NotNullWhen(true)] out IReadOnlyList<(PeerId Peer, string Address)>? peers, [NotNullWhen(false)] out string? error)
    {
        peers = null;
        if (!PeerInput.TryDecode(bytes, MaxBytes, out answer, out error)) return false;
        if (answer.KnownThrough < 0) { error = "negative version"; return false; }
        return AdmitNotice.TryValidate(answer.Peers, out peers, out error);
    }
}
